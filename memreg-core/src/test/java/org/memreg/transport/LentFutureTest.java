package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * The future of an operation on the caller's memory is completed by the node alone, once UCX is
 * done with the memory: a caller frees the memory when the future completes. Before, a receive
 * cancelled while UCX could still match it had UCX copy a message into memory the caller had
 * unmapped, and so did a get or a rendezvous receive whose future failed at the node's timeout
 * while UCX still waited for its data: the JVM died.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LentFutureTest {
    private static final long TAG = 5;

    /**
     * Receives cancelled just before or just after a message was sent to them, each buffer
     * unmapped as soon as it is the caller's again; every message arrives once, whole. In a child
     * JVM: the failure is the end of a process.
     */
    @Test
    void cancelledReceivesShouldLeaveNoBufferWithUcx() throws Exception {
        ChildJvm probe = survivor(CancelledReceiveProbe.class, 200);
        assertEquals(200, probe.value("withdrawn") + probe.value("matched"));
        assertTrue(probe.value("withdrawn") > 0, "some receives were withdrawn");
        assertEquals(200, probe.value("intact"), "every message arrived once and whole, none lost to a cancel");
    }

    @Test
    void aReceivesFutureShouldBeCompletedOnlyByTheNode() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared();
             Node receiver = loopback("receiver").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = loopback("sender").build()) {
            MemorySegment buffer = arena.allocate(64);
            CompletableFuture<Long> receive = receiver.receive(TAG, buffer);
            assertRefused(receive, 0L);
            assertFalse(receive.isDone(), "still the node's to complete");
            CompletableFuture<Long> dependent = receive.thenApply(n -> n);
            assertTrue(dependent.complete(1L), "a dependent stage holds no memory: the caller's to complete");

            assertTrue(receive.cancel(false), "a receive nothing matched is withdrawn");
            assertTrue(receive.isCancelled());
            Endpoint toReceiver = sender.connect("127.0.0.1", receiver.port());
            MemorySegment message = arena.allocate(64).fill((byte) 9);
            toReceiver.send(TAG, message).get(10, TimeUnit.SECONDS);
            assertEquals(64L, receiver.receive(TAG, buffer).get(10, TimeUnit.SECONDS),
                    "the message went to the next receive, not to the withdrawn one");
        }
    }

    /** A rendezvous send reads the caller's buffer until the receiver has it: it cannot be withdrawn. */
    @Test
    void aRendezvousSendShouldNotBeCancelledWhileUcxMayReadItsBuffer() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared();
             Node receiver = loopback("receiver").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = loopback("sender").build()) {
            Endpoint toReceiver = sender.connect("127.0.0.1", receiver.port());
            MemorySegment data = arena.allocate(1 << 20, 4096).fill((byte) 3);
            CompletableFuture<Long> send = toReceiver.send(TAG, data);
            assertFalse(send.cancel(false), "no receive yet: UCX holds the buffer");
            assertRefused(send, 0L);
            assertFalse(send.isDone());
            MemorySegment buffer = arena.allocate(1 << 20, 4096);
            assertEquals(1L << 20, receiver.receive(TAG, buffer).get(30, TimeUnit.SECONDS));
            assertEquals(1L << 20, send.get(30, TimeUnit.SECONDS), "the send the cancel left alone completed");
            assertEquals(-1, buffer.mismatch(data));
        }
    }

    /**
     * Rendezvous receives over TCP whose sender stops progressing mid-transfer: a receive that
     * times out while UCX writes one of its chunks completes only once the chunk is in (its
     * sender back), and its buffer is unmapped as soon as the future is done. Before, the future
     * failed at the timeout, and the late chunk was written into the unmapped buffer (SIGSEGV in
     * each of three runs of 10 rounds). In a child JVM: the failure is the end of a process.
     */
    @Test
    void aReceiveShouldFailOnlyOnceUcxHasLetGoOfItsChunks() throws Exception {
        ChildJvm probe = survivor(StalledSenderProbe.class, 12);
        assertTrue(probe.value("heldPastTimeout") > 0, "some receives timed out with a chunk under way");
    }

    /** {@link Node#await} withdraws a receive nothing matched at the node's timeout: its buffer is free then. */
    @Test
    void awaitShouldWithdrawAReceiveNothingMatched() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared();
             Node node = loopback("receiver").timeout(Duration.ofMillis(300)).build()) {
            CompletableFuture<Long> receive = node.receive(TAG, arena.allocate(64));
            TransportException e = assertThrows(TransportException.class, () -> node.await(receive));
            assertEquals(Ucp.ERR_TIMED_OUT, e.status(), e.getMessage());
            assertTrue(receive.isCancelled(), "withdrawn from UCX before the wait gave up");
        }
    }

    /** Runs {@code probe}'s {@code rounds} with a fresh seed (printed) in a child JVM that must live on. */
    private static ChildJvm survivor(Class<?> probe, int rounds) throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("LentFutureTest." + probe.getSimpleName());
        ChildJvm child = ChildJvm.run(List.of(), probe, Integer.toString(rounds), Long.toString(seed));
        assertEquals("true", child.text("survived"), "the process lived on");
        return child;
    }

    /** Every way CompletableFuture offers to complete {@code future} from outside is refused. */
    private static <T> void assertRefused(CompletableFuture<T> future, T value) {
        assertThrows(UnsupportedOperationException.class, () -> future.complete(value));
        assertThrows(UnsupportedOperationException.class, () -> future.completeExceptionally(new Exception("mine")));
        assertThrows(UnsupportedOperationException.class, () -> future.obtrudeValue(value));
        assertThrows(UnsupportedOperationException.class, () -> future.obtrudeException(new Exception("mine")));
        assertThrows(UnsupportedOperationException.class, () -> future.completeAsync(() -> value));
        assertThrows(UnsupportedOperationException.class, () -> future.orTimeout(1, TimeUnit.MILLISECONDS));
        assertThrows(UnsupportedOperationException.class,
                () -> future.completeOnTimeout(value, 1, TimeUnit.MILLISECONDS));
    }
}
