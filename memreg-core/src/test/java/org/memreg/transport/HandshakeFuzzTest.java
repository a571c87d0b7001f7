package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * The listener under attack: 10,000 connections that send random bytes, damaged or truncated
 * hellos, huge length fields, wrong proofs, nothing at all (half-open), or drip one byte a second,
 * while a good peer keeps doing put/get round trips through the node. Nothing may crash, the
 * listener may spend no thread per client and bounded memory, every connection must end in one
 * of its counters, and the good peer's round trips must go on.
 */
class HandshakeFuzzTest {
    private static final int CONNECTIONS = Integer.getInteger("memreg.test.fuzzConnections", 10_000);
    private static final String SECRET = "fuzzing the handshake, seeded";
    private static final int DRIPPERS = 4;
    private static final int HALF_OPEN = 16;

    /** A REFUSE of any length, even without a reason or text, reads as a refusal (it threw IndexOutOfBounds). */
    @Test
    void aRefusalOfAnyLengthShouldRead() {
        assertEquals("?: ", Handshake.refusal(ByteBuffer.wrap(new byte[] {Handshake.REFUSE})));
        assertEquals("busy: ", Handshake.refusal(ByteBuffer.wrap(new byte[] {Handshake.REFUSE,
            (byte) Handshake.Reason.BUSY.ordinal()})));
        assertEquals("?: x", Handshake.refusal(ByteBuffer.wrap(new byte[] {Handshake.REFUSE, 99, 'x'})));
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void garbageAndSlowClientsShouldCostBoundedResourcesWhileAGoodPeerGoesOn() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("HandshakeFuzzTest");
        SplittableRandom random = new SplittableRandom(seed);
        var threads = ManagementFactory.getThreadMXBean();
        try (Node server = loopback("fuzzed").secret(SECRET).listen(new InetSocketAddress("127.0.0.1", 0))
                     .handshakeTimeout(Duration.ofSeconds(1)).connectionRate(1_000_000).build();
             Node good = loopback("good").secret(SECRET).build(); Arena arena = Arena.ofShared()) {
            Endpoint endpoint = good.connect("127.0.0.1", server.port());
            RemoteWindow window = endpoint.attach(server.allocateWindow(4096, Access.ALL).key());
            System.gc();
            long heapBefore = usedHeap();
            int threadsBefore = threads.getThreadCount();

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong roundTrips = new AtomicLong();
            AtomicInteger peakThreads = new AtomicInteger(threadsBefore);
            AtomicReference<Throwable> peerFailure = new AtomicReference<>();
            Thread peer = Thread.ofPlatform().start(() -> {
                MemorySegment out = arena.allocate(8, 8);
                MemorySegment in = arena.allocate(8, 8);
                try {
                    for (long i = 1; !stop.get(); i++) {
                        out.set(JAVA_LONG, 0, i);
                        window.put(0, out).get(20, TimeUnit.SECONDS);
                        window.flush().get(20, TimeUnit.SECONDS);
                        window.get(0, in).get(20, TimeUnit.SECONDS);
                        assertEquals(i, in.get(JAVA_LONG, 0));
                        roundTrips.incrementAndGet();
                        peakThreads.accumulateAndGet(threads.getThreadCount(), Math::max);
                        java.util.concurrent.locks.LockSupport.parkNanos(200_000); // leave the fuzzer a core
                    }
                } catch (Throwable t) {
                    peerFailure.set(t);
                }
            });
            List<Thread> drippers = new ArrayList<>();
            AtomicLong dripped = new AtomicLong();
            for (int d = 0; d < DRIPPERS; d++) {
                drippers.add(Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        drip(server.port(), stop);
                        dripped.incrementAndGet();
                    }
                }));
            }

            long start = System.nanoTime();
            ArrayDeque<Socket> halfOpen = new ArrayDeque<>();
            long[] kinds = new long[7];
            for (int c = 0; c < CONNECTIONS; c++) {
                int kind = random.nextInt(kinds.length);
                kinds[kind]++;
                Socket socket = new Socket();
                socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
                socket.setSoTimeout(2000);
                if (kind == 6) {
                    halfOpen.add(socket); // says nothing; closed later, or dropped by the listener first
                    if (halfOpen.size() > HALF_OPEN) {
                        halfOpen.poll().close();
                    }
                    continue;
                }
                try (socket) {
                    OutputStream out = socket.getOutputStream();
                    out.write(attack(kind, random));
                    out.flush();
                    if (kind != 2 && random.nextBoolean()) { // (a truncated hello gets no answer)
                        socket.getInputStream().read(new byte[256]); // a reply, or the close
                    }
                } catch (IOException reset) {
                    // the listener may close first: that is its right
                }
                if (c % 2_000 == 1_999) {
                    System.out.printf("%,d connections, %,d good round trips so far, listener %s%n", c + 1,
                            roundTrips.get(), server.handshakeStats());
                }
            }
            long roundTripsDuringFuzz = roundTrips.get();
            for (Socket socket : halfOpen) {
                socket.close();
            }
            stop.set(true);
            for (Thread t : drippers) {
                t.join(10_000);
            }
            long total = CONNECTIONS + dripped.get() + 1; // and the good peer's
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ended(server.handshakeStats()) < total && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            peer.join(30_000);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.gc();
            long heapAfter = usedHeap();
            HandshakeStats stats = server.handshakeStats();
            System.out.printf("fuzz: %,d connections + %d drips in %.1f s (kinds %s); listener %s%n", CONNECTIONS,
                    dripped.get(), seconds, java.util.Arrays.toString(kinds), stats);
            System.out.printf("fuzz: threads %d before, %d at most during; heap %,d KiB before, %,d KiB after;"
                    + " good round trips %,d during the fuzz, %,d in all%n", threadsBefore, peakThreads.get(),
                    heapBefore >> 10, heapAfter >> 10, roundTripsDuringFuzz, roundTrips.get());

            assertEquals(null, peerFailure.get(), "the good peer's round trips failed");
            assertTrue(roundTripsDuringFuzz > 100, "the good peer went on: " + roundTripsDuringFuzz);
            assertEquals(total, ended(stats), "every connection ended in exactly one counter: " + stats);
            assertEquals(1, stats.completed(), "no attacker got the address, only the good peer");
            assertTrue(stats.refused() > CONNECTIONS / 2, "most were refused for what they sent: " + stats);
            assertTrue(stats.timedOut() >= dripped.get() - DRIPPERS, "drips were dropped at the handshake timeout: "
                    + stats);
            assertTrue(peakThreads.get() <= threadsBefore + DRIPPERS + 4,
                    "no thread per client: " + peakThreads.get() + " vs " + threadsBefore);
            assertTrue(heapAfter - heapBefore < 32L << 20, "heap grew by " + ((heapAfter - heapBefore) >> 10) + " KiB");
            GoodPeer.assertServed(server, b -> b.secret(SECRET));
        }
    }

    private static long ended(HandshakeStats s) {
        return s.completed() + s.refused() + s.shed() + s.timedOut() + s.abandoned();
    }

    private static long usedHeap() {
        var memory = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        return memory.getUsed();
    }

    private static byte[] hello(SplittableRandom random) {
        byte[] nonce = new byte[Handshake.NONCE_BYTES];
        random.nextBytes(nonce);
        return Handshake.frame(Handshake.HELLO_BYTES).put(Handshake.HELLO).putLong(Handshake.MAGIC)
                .putShort((short) Handshake.VERSION).put((byte) 0).put((byte) Handshake.FLAG_SECRET)
                .putLong(random.nextLong()).put(nonce).array();
    }

    /** The bytes one attacking connection sends. */
    private static byte[] attack(int kind, SplittableRandom random) {
        byte[] hello = hello(random);
        switch (kind) {
            case 0 -> { // random bytes
                byte[] bytes = new byte[1 + random.nextInt(300)];
                random.nextBytes(bytes);
                return bytes;
            }
            case 1 -> { // a hello with one byte flipped
                hello[random.nextInt(hello.length)] ^= (byte) (1 + random.nextInt(255));
                return hello;
            }
            case 2 -> { // a truncated hello, then the close
                return java.util.Arrays.copyOf(hello, random.nextInt(hello.length));
            }
            case 3 -> { // a huge (or negative) length field
                return ByteBuffer.allocate(8).putInt(random.nextBoolean() ? Integer.MAX_VALUE - random.nextInt(1000)
                        : HandshakeServer.MAX_FRAME + 1 + random.nextInt(1 << 20)).putInt(random.nextInt()).array();
            }
            case 4 -> { // a good hello and a wrong proof
                byte[] proof = new byte[Secret.PROOF_BYTES];
                random.nextBytes(proof);
                byte[] frame = Handshake.frame(Handshake.PROOF_FRAME_BYTES).put(Handshake.PROOF).put(proof).array();
                byte[] both = java.util.Arrays.copyOf(hello, hello.length + frame.length);
                System.arraycopy(frame, 0, both, hello.length, frame.length);
                return both;
            }
            default -> { // another version or error mode, or no secret
                ByteBuffer b = ByteBuffer.wrap(hello);
                switch (random.nextInt(3)) {
                    case 0 -> b.putShort(13, (short) (2 + random.nextInt(100)));
                    case 1 -> b.put(15, (byte) 1);
                    default -> b.put(16, (byte) 0);
                }
                return hello;
            }
        }
    }

    /** One byte a second of a hello until the listener gives up on it. */
    private static void drip(int port, AtomicBoolean stop) {
        byte[] hello = hello(new SplittableRandom(port));
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            OutputStream out = socket.getOutputStream();
            for (int i = 0; i < hello.length && !stop.get(); i++) {
                out.write(hello[i]);
                out.flush();
                Thread.sleep(1000);
            }
        } catch (IOException e) {
            // dropped by the listener: what a drip deserves
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
