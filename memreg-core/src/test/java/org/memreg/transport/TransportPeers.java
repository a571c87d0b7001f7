package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.testkit.ChildJvm;

/** Starting {@link EchoPeer} in another JVM (optionally inside a network namespace) and talking to it. */
final class TransportPeers {
    private TransportPeers() {
    }

    /** A started child: the process and the port it listens on. */
    record Child(Process process, int port, List<String> output) implements AutoCloseable {
        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Starts EchoPeer listening on {@code address}; {@code prefix} runs it (e.g. ip netns exec). */
    static Child start(String address, List<String> prefix, Map<String, String> env, List<String> jvmOptions)
            throws Exception {
        List<String> command = new ArrayList<>(prefix);
        List<String> javaCommand = new ArrayList<>(ChildJvm.javaCommand(EchoPeer.class));
        javaCommand.addAll(1, jvmOptions);
        command.addAll(javaCommand);
        command.add(address);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process process = builder.start();
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    output.add(line);
                    if (line.startsWith("port=")) {
                        port.complete(Integer.parseInt(line.substring(5)));
                    }
                }
            } catch (Exception e) {
                port.completeExceptionally(e);
            }
            port.completeExceptionally(new IllegalStateException("child ended: " + output));
        });
        try {
            return new Child(process, port.get(60, TimeUnit.SECONDS), output);
        } catch (Exception e) {
            process.destroyForcibly();
            throw new AssertionError("child did not start: " + output, e);
        }
    }

    static void command(Endpoint peer, long value) throws Exception {
        MemorySegment command = java.lang.foreign.Arena.ofAuto().allocate(8, 8);
        command.set(ValueLayout.JAVA_LONG, 0, value);
        peer.send(1, command).get(30, TimeUnit.SECONDS);
    }

    /** Sends {@code size} random bytes, receives the echo and checks it. Returns nanoseconds taken. */
    static long echo(Node node, Endpoint peer, MemorySegment out, MemorySegment in, long size, long seed)
            throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment src = out.asSlice(0, size);
        long i = 0;
        for (; i + 8 <= size; i += 8) {
            src.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
        }
        for (; i < size; i++) {
            src.set(ValueLayout.JAVA_BYTE, i, (byte) random.nextInt());
        }
        MemorySegment dst = in.asSlice(0, size);
        dst.fill((byte) 0);
        long start = System.nanoTime();
        command(peer, size);
        CompletableFuture<Long> back = node.receive(3, dst);
        assertEquals(size, peer.send(2, src).get(60, TimeUnit.SECONDS));
        assertEquals(size, back.get(60, TimeUnit.SECONDS));
        long nanos = System.nanoTime() - start;
        assertEquals(-1, src.mismatch(dst), "echo of " + size + " bytes differs");
        return nanos;
    }

    /** Asks the peer for a window of {@code size} bytes and attaches its key. */
    static RemoteWindow window(Node node, Endpoint peer, long size) throws Exception {
        MemorySegment key = java.lang.foreign.Arena.ofAuto().allocate(4096, 8);
        CompletableFuture<Long> reply = node.receive(5, key);
        command(peer, -size);
        long length = reply.get(30, TimeUnit.SECONDS);
        WindowKey windowKey = WindowKey.fromBytes(key.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE), 0,
                (int) length);
        assertTrue(windowKey.length() >= size);
        return peer.attach(windowKey);
    }

    /** Puts random data into the window, flushes, gets it back and compares. */
    static void putGet(RemoteWindow window, MemorySegment out, MemorySegment in, long offset, long size, long seed)
            throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment src = out.asSlice(0, size);
        for (long i = 0; i + 8 <= size; i += 8) {
            src.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
        }
        window.put(offset, src).get(30, TimeUnit.SECONDS);
        window.flush().get(30, TimeUnit.SECONDS);
        MemorySegment dst = in.asSlice(0, size);
        dst.fill((byte) 0);
        window.get(offset, dst).get(30, TimeUnit.SECONDS);
        window.flush().get(30, TimeUnit.SECONDS);
        assertEquals(-1, src.mismatch(dst), "window data at " + offset + " (" + size + " bytes)");
    }

    /** Stops the peer and returns its peak registered bytes. */
    /**
     * The scenario both hosts' tests run against an echo peer: echo 8 B..64 MiB (eager, just over
     * the eager limit, odd sizes, many chunks) and put/get into an 8 MiB window at its start,
     * across a chunk and at its end; every byte verified.
     */
    static void echoAndWindow(Node node, Endpoint peer, Arena arena, long seed) throws Exception {
        long mib = 1L << 20;
        MemorySegment out = arena.allocate(64 * mib, 4096);
        MemorySegment in = arena.allocate(64 * mib, 4096);
        long[] sizes = {8, 100, 4096, 16 << 10, (16 << 10) + 1, mib, mib + 3, 5 * mib + 7, 64 * mib};
        for (long size : sizes) {
            long nanos = echo(node, peer, out, in, size, seed + size);
            System.out.printf("echo %d bytes: %.1f µs%n", size, nanos / 1e3);
        }
        RemoteWindow window = window(node, peer, 8 * mib);
        putGet(window, out, in, 0, 4096, seed);
        putGet(window, out, in, 12345, 2 * mib, seed + 1);
        putGet(window, out, in, 8 * mib - 4096, 4096, seed + 2);
    }

    static long stop(Node node, Endpoint peer) throws Exception {
        MemorySegment peak = Arena.ofAuto().allocate(8, 8);
        CompletableFuture<Long> reply = node.receive(10, peak);
        command(peer, -1);
        assertNotNull(reply.get(30, TimeUnit.SECONDS));
        return peak.get(ValueLayout.JAVA_LONG, 0);
    }
}
