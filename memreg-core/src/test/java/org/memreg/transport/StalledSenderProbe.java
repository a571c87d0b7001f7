package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.memreg.linux.Mman;

/**
 * {@link LentFutureTest}'s child: {@code args[0]} rounds (seed {@code args[1]}) of an 8 MiB
 * message over TCP whose sender stops progressing at a random moment of the transfer; the
 * receiver (timeout 300 ms) unmaps its buffer as soon as its receive's future is done, and the
 * sender then progresses again. Prints {@code heldPastTimeout=} (receives not done at 3 times the
 * timeout, for UCX still had a chunk of them: those the sender then let finish) and
 * {@code survived=true}. A receive that failed while UCX could still write a chunk
 * into its buffer ends the process here (SIGSEGV in UCX's copy into the unmapped buffer).
 */
public final class StalledSenderProbe {
    private static final long MESSAGE = 8 << 20;
    private static final long TAG = 9;
    /** The sender stops within this time of its send: 8 MiB take some milliseconds over TCP here. */
    private static final long STOP_WITHIN_NANOS = Long.getLong("stopWithinNanos", 20_000_000);

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        int heldPastTimeout = 0;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(MESSAGE, 4096).fill((byte) 0x5a);
            for (int i = 0; i < rounds; i++) {
                try (PausableNode sender = new PausableNode(GoodPeer.loopback("sender").ucx("TLS", "tcp"));
                     Node receiver = GoodPeer.loopback("receiver").ucx("TLS", "tcp").timeout(Duration.ofMillis(300))
                             .listen(new InetSocketAddress("127.0.0.1", 0)).build()) {
                    Endpoint toReceiver = sender.node.connect("127.0.0.1", receiver.port());
                    long buffer = Mman.mapAnonymous(MESSAGE);
                    MemorySegment target = MemorySegment.ofAddress(buffer).reinterpret(MESSAGE);
                    CompletableFuture<Long> receive = receiver.receive(TAG, target);
                    toReceiver.send(TAG, data);
                    spin(random.nextLong(STOP_WITHIN_NANOS)); // into the transfer, wherever it is then
                    sender.pause();
                    try {
                        receive.get(900, TimeUnit.MILLISECONDS);
                    } catch (ExecutionException e) {
                        // failed at the timeout, UCX holding none of its chunks
                    } catch (TimeoutException e) {
                        heldPastTimeout++;
                        sender.resume(); // the chunk UCX holds arrives, and the receive ends
                        waitOut(receive);
                    }
                    Mman.munmap(buffer, MESSAGE); // the future is done: the buffer is the caller's again
                    sender.resume();
                    Thread.sleep(200); // the sender's late chunks meet a buffer that is gone
                }
            }
        }
        System.out.println("heldPastTimeout=" + heldPastTimeout);
        System.out.println("survived=true");
    }

    private static void waitOut(CompletableFuture<Long> receive) throws Exception {
        try {
            receive.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            // it timed out: it fails, now that UCX let go of the chunk
        }
    }

    private static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }
}
