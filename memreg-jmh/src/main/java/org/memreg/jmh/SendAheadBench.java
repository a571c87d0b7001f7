package org.memreg.jmh;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;

/**
 * Rendezvous messages sent ahead of their receives: two nodes in one JVM; per round the sender
 * sends {@value #DEPTH} messages, waits 2 ms (their headers and first chunks arrive, and the
 * receiver takes them off UCX), then the receiver posts its receives. Prints the bandwidth from
 * the first receive posted to the last completed, over the rounds after a warm-up of half as many.
 *
 * <pre>SendAheadBench SIZE ROUNDS</pre>
 */
public final class SendAheadBench {
    private static final int DEPTH = 8;
    private static final long TAG = 7;

    private SendAheadBench() {
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        int rounds = Integer.parseInt(args[1]);
        try (Arena arena = Arena.ofShared(); Node receiver = Node.builder().name("receiver").build();
             Node sender = Node.builder().name("sender").build()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            MemorySegment[] out = new MemorySegment[DEPTH];
            MemorySegment[] in = new MemorySegment[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                out[i] = arena.allocate(size, 4096).fill((byte) i);
                in[i] = arena.allocate(size, 4096);
            }
            round(endpoint, receiver, out, in, rounds / 2);
            long nanos = round(endpoint, receiver, out, in, rounds);
            System.out.printf("send ahead: %d rounds of %d messages of %d bytes, %.0f MiB/s%n", rounds, DEPTH, size,
                    (double) rounds * DEPTH * size / (1 << 20) / (nanos / 1e9));
        }
    }

    /** Runs {@code rounds} rounds; returns the nanoseconds from each first receive to its last completion, summed. */
    private static long round(Endpoint endpoint, Node receiver, MemorySegment[] out, MemorySegment[] in, int rounds)
            throws Exception {
        long nanos = 0;
        for (int r = 0; r < rounds; r++) {
            List<CompletableFuture<Long>> sends = new ArrayList<>();
            for (MemorySegment message : out) {
                sends.add(endpoint.send(TAG, message));
            }
            Thread.sleep(2);
            long start = System.nanoTime();
            List<CompletableFuture<Long>> receives = new ArrayList<>();
            for (MemorySegment buffer : in) {
                receives.add(receiver.receive(TAG, buffer));
            }
            for (CompletableFuture<Long> receive : receives) {
                receive.get();
            }
            nanos += System.nanoTime() - start;
            for (CompletableFuture<Long> send : sends) {
                send.get();
            }
            for (int i = 0; i < DEPTH; i++) { // in order under one tag from one sender
                if (in[i].get(JAVA_BYTE, in[i].byteSize() - 1) != (byte) i) {
                    throw new IllegalStateException("message " + i + " of round " + r + " arrived wrong");
                }
            }
        }
        return nanos;
    }
}
