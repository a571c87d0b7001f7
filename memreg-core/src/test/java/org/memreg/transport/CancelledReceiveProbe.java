package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * {@link LentFutureTest}'s child: {@code args[0]} rounds (seed {@code args[1]}) of a receive into
 * a mapping of its own, a 1 KiB message sent to it just before or just after the receive's future
 * is cancelled, and the mapping unmapped as soon as the buffer is the caller's again: at once when
 * the cancel succeeded, else once the future completed. Then every message is received. Prints
 * {@code withdrawn=} (cancels that succeeded), {@code matched=} (cancels refused: a message had
 * matched), {@code intact=} (distinct messages received whole, each exactly once) and
 * {@code survived=true}. A cancel that left the buffer with UCX ends the process here (SIGSEGV in
 * UCX's copy of a message into the unmapped buffer).
 */
public final class CancelledReceiveProbe {
    private static final long TAG = 5;
    private static final int BYTES = 1024;

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        long mapped = SysConf.pageSize();
        int[] seen = new int[rounds];
        int withdrawn = 0;
        int matched = 0;
        try (Node receiver = GoodPeer.loopback("receiver").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = GoodPeer.loopback("sender").build();
             Arena arena = Arena.ofConfined()) {
            Endpoint toReceiver = sender.connect("127.0.0.1", receiver.port());
            MemorySegment message = arena.allocate(BYTES);
            for (int i = 0; i < rounds; i++) {
                long buffer = Mman.mapAnonymous(mapped);
                CompletableFuture<Long> receive = receiver.receive(TAG, MemorySegment.ofAddress(buffer).reinterpret(BYTES));
                message.fill((byte) i);
                boolean sendFirst = random.nextBoolean();
                if (sendFirst) {
                    toReceiver.send(TAG, message).get(10, TimeUnit.SECONDS);
                    spin(random.nextInt(50_000)); // lets the receiver's progress thread match it, or not yet
                }
                if (receive.cancel(false)) {
                    withdrawn++;
                } else {
                    matched++;
                    count(seen, MemorySegment.ofAddress(buffer).reinterpret(receive.get(10, TimeUnit.SECONDS)));
                }
                Mman.munmap(buffer, mapped); // the buffer is the caller's again
                if (!sendFirst) {
                    toReceiver.send(TAG, message).get(10, TimeUnit.SECONDS);
                }
            }
            MemorySegment buffer = arena.allocate(BYTES);
            for (int i = 0; i < withdrawn; i++) { // the messages no receive took are still the node's
                count(seen, buffer.asSlice(0, receiver.receive(TAG, buffer).get(10, TimeUnit.SECONDS)));
            }
        }
        int intact = 0;
        for (int times : seen) {
            intact += times == 1 ? 1 : 0;
        }
        System.out.println("withdrawn=" + withdrawn);
        System.out.println("matched=" + matched);
        System.out.println("intact=" + intact);
        System.out.println("survived=true");
    }

    /** Counts the round whose bytes {@code received} holds, if it holds one round's 1 KiB whole. */
    private static void count(int[] seen, MemorySegment received) {
        byte first = received.get(JAVA_BYTE, 0);
        for (long i = 0; i < received.byteSize(); i++) {
            if (received.get(JAVA_BYTE, i) != first) {
                return;
            }
        }
        int round = Byte.toUnsignedInt(first);
        if (received.byteSize() == BYTES && round < seen.length) {
            seen[round]++;
        }
    }

    private static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }
}
