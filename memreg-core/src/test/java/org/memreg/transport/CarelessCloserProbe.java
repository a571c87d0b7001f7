package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link HeldArenaTest}'s and {@link ConfinedArenaTest}'s child: {@code args[0]} rounds (seed
 * {@code args[1]}) of an 8 MiB message over TCP between two nodes of this JVM, each buffer in an
 * arena of its own, {@code args[2]} {@code shared} or {@code confined} (this thread's), and a
 * careless caller that closes the receive's or the send's arena at a random moment of the
 * transfer; with {@code args[3]} {@code timed}, after a {@code get} of the receive timed out
 * there (the README's try-with-resources), else after a spin. The parent sets glibc's mmap
 * threshold, so that each close unmaps its buffer at once: a close that went through while UCX
 * used the memory ends this process (SIGSEGV in UCX's copy).
 * A shared arena's close is refused while UCX uses it; a confined one's goes through, and UCX
 * never had its memory. Every operation must end either with the message whole or, for a receive
 * whose buffer was gone (closed before its chunks began, or before the message was copied in),
 * with the buffer gone (and, before the chunks, the send refused); never at a timeout. Prints
 * {@code refused=} (closes refused), {@code closed=} (closes that went through), {@code intact=}
 * (messages checked whole), {@code gone=} (receives that lost their buffer) and {@code survived=true}.
 */
public final class CarelessCloserProbe {
    private static final long MESSAGE = 8 << 20;

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        boolean confined = args.length > 2 && args[2].equals("confined");
        boolean timed = args.length > 3 && args[3].equals("timed");
        int refused = 0;
        int closed = 0;
        int intact = 0;
        int gone = 0;
        try (Node receiver = GoodPeer.loopback("receiver").ucx("TLS", "tcp").chunkBytes(256 << 10)
                     .timeout(Duration.ofSeconds(5)).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = GoodPeer.loopback("sender").ucx("TLS", "tcp").chunkBytes(256 << 10)
                     .timeout(Duration.ofSeconds(5)).build()) {
            Endpoint endpoint = sender.connect("127.0.0.1", receiver.port());
            for (int r = 0; r < rounds; r++) {
                Arena in = confined ? Arena.ofConfined() : Arena.ofShared();
                Arena out = confined ? Arena.ofConfined() : Arena.ofShared();
                MemorySegment buffer = in.allocate(MESSAGE, 4096);
                MemorySegment data = out.allocate(MESSAGE, 4096).fill((byte) r);
                CompletableFuture<Long> received = receiver.receive(r, buffer);
                CompletableFuture<Long> sent = endpoint.send(r, data);
                long nanos = random.nextLong(3_000_000);
                if (timed) {
                    try {
                        received.get(nanos, TimeUnit.NANOSECONDS);
                    } catch (TimeoutException | ExecutionException e) {
                        // careless: closes whatever came of it
                    }
                } else {
                    long until = System.nanoTime() + nanos;
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                }
                boolean closeReceive = random.nextBoolean();
                try {
                    (closeReceive ? in : out).close();
                    closed++;
                } catch (IllegalStateException held) {
                    refused++;
                }
                boolean receivedWhole = outcome(received, "receive", r);
                boolean whole = receivedWhole & outcome(sent, "send", r);
                gone += receivedWhole ? 0 : 1;
                if (whole && in.scope().isAlive()) {
                    for (long i = 0; i < MESSAGE; i += 4096) {
                        if (buffer.get(JAVA_BYTE, i) != (byte) r) {
                            throw new AssertionError("round " + r + ": byte " + i + " of the message is not the sender's");
                        }
                    }
                    intact++;
                }
                if (in.scope().isAlive()) {
                    in.close(); // its operations are done: the hold has ended
                }
                if (out.scope().isAlive()) {
                    out.close();
                }
            }
        }
        System.out.printf("refused=%d%nclosed=%d%nintact=%d%ngone=%d%nsurvived=true%n", refused, closed, intact, gone);
    }

    /** True for an operation that moved the whole message; false for a buffer gone before its chunks; else throws. */
    private static boolean outcome(CompletableFuture<Long> operation, String what, int round) throws Exception {
        try {
            if (operation.get(30, TimeUnit.SECONDS) != MESSAGE) {
                throw new AssertionError("round " + round + ": " + what + " moved " + operation.get() + " bytes");
            }
            return true;
        } catch (ExecutionException e) {
            String why = String.valueOf(e.getCause().getMessage());
            if (why.contains("buffer is gone") || why.contains("buffer was gone") || why.contains("lost its buffer")) {
                return false;
            }
            throw new AssertionError("round " + round + ": " + what + " failed otherwise: " + e.getCause(), e.getCause());
        }
    }
}
