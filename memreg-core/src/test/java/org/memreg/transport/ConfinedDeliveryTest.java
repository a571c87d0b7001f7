package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * What a receive brings into memory of a confined arena, when a thread other than the owner
 * completes it, is copied only while the owner cannot be closing the arena ({@link
 * ConfinedDelivery}): the README's try-with-resources around a timed {@code get} closes the arena
 * right after the timeout, and a copy by the kernel at that moment wrote on into the freed memory
 * where the allocator kept it mapped. The receiving node here never lets a waiter drive (no wait
 * spin), so its progress thread completes every receive, and the buffer is the test's own mapping
 * seen through a confined arena of the test's thread, so that a write after the close shows in
 * the bytes.
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConfinedDeliveryTest {
    private static final long TAG = 17;
    private static final long BYTES = 1 << 20;
    private ArenaMapping mapping;
    private Node receiver;
    private Node sender;
    private Endpoint toReceiver;
    private Arena senders;

    @BeforeEach
    void connect() {
        UcxTestSupport.assumeUcx();
        mapping = new ArenaMapping(BYTES, Arena.ofConfined()); // this thread's
        receiver = loopback("receiver").waitSpin(Duration.ZERO).listen(new InetSocketAddress("127.0.0.1", 0)).build();
        sender = loopback("sender").build();
        toReceiver = sender.connect("127.0.0.1", receiver.port());
        senders = Arena.ofShared();
    }

    @AfterEach
    void close() {
        ConfinedMemory.beforeKernelStep = () -> { };
        if (sender != null) {
            sender.close();
            receiver.close();
            senders.close();
            mapping.close();
        }
    }

    private CompletableFuture<Long> send(long bytes) {
        return toReceiver.send(TAG, senders.allocate(bytes, 4096).fill((byte) 0x5a));
    }

    private boolean landed() {
        return mapping.mapped().get(JAVA_BYTE, 0) != 0;
    }

    /** Whether {@code future} is done, as another thread sees it (its look copies nothing in). */
    private static boolean doneForAnother(CompletableFuture<?> future) throws Exception {
        return CompletableFuture.supplyAsync(future::isDone).get(10, TimeUnit.SECONDS);
    }

    /** An eager and a rendezvous message that come after the owner's wait timed out land only at its next look. */
    @Test
    void whatComesWhileTheOwnerIsAwayShouldWaitForItsNextLook() throws Exception {
        for (long bytes : new long[] {64, BYTES}) {
            MemorySegment buffer = mapping.buffer();
            buffer.fill((byte) 0);
            CompletableFuture<Long> received = receiver.receive(TAG, buffer);
            assertThrows(TimeoutException.class, () -> received.get(20, TimeUnit.MILLISECONDS), "nothing sent yet");
            assertEquals(bytes, send(bytes).get(30, TimeUnit.SECONDS));
            Thread.sleep(100); // the receiver's round that took the message ends
            assertFalse(doneForAnother(received), bytes + " bytes: completed while the buffer's owner was away");
            assertFalse(landed(), bytes + " bytes: written into the buffer while its owner was away");
            assertEquals(bytes, received.get(30, TimeUnit.SECONDS), "the owner's look delivers");
            MemorySegment message = senders.allocate(bytes).fill((byte) 0x5a);
            assertEquals(-1, buffer.asSlice(0, bytes).mismatch(message), bytes + " bytes: every byte of the message");
        }
        GoodPeer.assertServed(receiver);
    }

    /** A get's answer that comes after the owner's wait timed out lands only at its next look too. */
    @Test
    void aGetsAnswerThatComesWhileTheOwnerIsAwayShouldWaitForItsNextLook() throws Exception {
        try (StalledGet stalled = new StalledGet(mapping.buffer())) {
            assertThrows(TimeoutException.class, () -> stalled.get.get(20, TimeUnit.MILLISECONDS), "the owner stands still");
            stalled.resume();
            Thread.sleep(200); // the answer comes, and the origin's progress thread completes the get
            assertFalse(doneForAnother(stalled.get), "completed while the buffer's owner was away");
            assertFalse(landed(), "written into the buffer while its owner was away");
            stalled.get.get(30, TimeUnit.SECONDS);
            assertEquals(-1, mapping.buffer().mismatch(stalled.window.segment()), "the owner's bytes");
        }
    }

    /**
     * A message came while the owner was away, and the owner then closed its arena (the README's
     * try-with-resources): it is dropped as gone, and another waiter is told.
     */
    @Test
    void whatWaitsForAnOwnerThatClosedItsArenaShouldBeDroppedAsGone() throws Exception {
        CompletableFuture<Long> received = receiver.receive(TAG, mapping.buffer());
        assertThrows(TimeoutException.class, () -> received.get(20, TimeUnit.MILLISECONDS));
        assertEquals(BYTES, send(BYTES).get(30, TimeUnit.SECONDS), "the message arrived at the node");
        Thread.sleep(100); // the receiver's round that took the message ends
        mapping.arena().close();
        Throwable failure = CompletableFuture.supplyAsync(() -> assertThrows(ExecutionException.class,
                () -> received.get(30, TimeUnit.SECONDS)).getCause()).get(40, TimeUnit.SECONDS);
        assertInstanceOf(TransportException.class, failure, String.valueOf(failure));
        assertTrue(failure.getMessage().contains("was gone"), failure.getMessage());
        assertFalse(landed(), "written into the closed arena's memory");
        GoodPeer.assertServed(receiver);
    }

    /**
     * The progress thread's copy is held up between its look at the arena and the kernel's write
     * while the owner's timed {@code get} ends: the owner returns only after the copy, so that its
     * close comes after the last byte, and nothing lands in the memory after it.
     */
    @Test
    void anOwnerWhoseWaitEndsDuringACopyShouldCloseOnlyAfterIt() throws Exception {
        Thread owner = Thread.currentThread();
        long waitMillis = 3_000; // the message comes within it even on a loaded machine
        long waitEnds = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        CountDownLatch copying = new CountDownLatch(1);
        ConfinedMemory.beforeKernelStep = () -> {
            if (Thread.currentThread() != owner && copying.getCount() > 0) {
                copying.countDown();
                try {
                    TimeUnit.NANOSECONDS.sleep(waitEnds + TimeUnit.MILLISECONDS.toNanos(500) - System.nanoTime());
                } catch (InterruptedException e) { // past the end of the owner's wait, whenever the copy began
                    Thread.currentThread().interrupt();
                }
            }
        };
        CompletableFuture<Long> received = receiver.receive(TAG, mapping.buffer());
        CompletableFuture<Long> sent = send(BYTES);
        try {
            received.get(waitMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // the copy may have ended just after the owner's wait: either way it is over now
        }
        assertEquals(0, copying.getCount(), "the copy began during the owner's wait");
        MemorySegment atClose = Arena.ofAuto().allocate(BYTES);
        MemorySegment.copy(mapping.mapped(), 0, atClose, 0, BYTES);
        mapping.arena().close();
        assertEquals(BYTES, sent.get(30, TimeUnit.SECONDS));
        ArenaMapping.await(() -> received.isDone(), "the receive");
        Thread.sleep(1_000); // a copy still under way would have written by now
        assertEquals(-1, mapping.mapped().mismatch(atClose), "bytes landed in the memory after its arena closed");
        assertTrue(atClose.get(JAVA_BYTE, BYTES - 1) == 0x5a, "the whole message was in place before the close");
    }
}
