package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;
import static org.memreg.transport.UnexpectedMessagesTest.awaitEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;

/**
 * A rendezvous send to a peer that takes its header and never its chunks passes its timeout, but
 * UCX (error mode NONE) never ends the chunk sends, so the node must keep them registered, and
 * the send's future waits: the chunks are the caller's memory. Every
 * later send to that peer would do the same, 4 MiB at a time (once the peer left, 11 such sends
 * held 44 MiB): while one is held, no rendezvous send to that peer starts.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HeldSendTest {
    private static final int MESSAGE = 8 << 20;
    private static final long TAG = 5;

    @Test
    void sendsToAPeerThatHoldsATimedOutSendShouldFailAtOnceAndRegisterNothingMore() throws Exception {
        UcxTestSupport.assumeUcx();
        CompletableFuture<Long> heldSend;
        try (Arena arena = Arena.ofShared(); // closed last: UCX may hold its memory until the node closes
             Node node = loopback("sender").listen(new InetSocketAddress("127.0.0.1", 0))
                     .timeout(Duration.ofSeconds(1)).build();
             Node friend = loopback("friend").build()) {
            RawUcxPeer hostile = new RawUcxPeer();
            Endpoint toHostile = greet(node, hostile);
            MemorySegment data = arena.allocate(MESSAGE, 4096);
            heldSend = holdChunks(toHostile, hostile, data);
            long held = node.registeredBytes();
            assertTrue(held > 0, "the timed-out send's chunks stay registered: UCX may still read them");

            hostile.close(); // gone without a word: nothing will ever end the held send
            for (int i = 0; i < 10; i++) {
                TransportException refused = failure(toHostile.send(TAG, data));
                assertEquals(Ucp.ERR_BUSY, refused.status(), refused.getMessage());
                assertTrue(refused.getMessage().contains("1 earlier send(s) to it timed out and UCX still holds them"),
                        refused.getMessage());
            }
            assertEquals(held, node.registeredBytes(), "the refused sends registered nothing");

            Endpoint toFriend = node.connect(friend.workerAddress());
            MemorySegment buffer = arena.allocate(MESSAGE, 4096);
            data.set(JAVA_LONG, MESSAGE - 8, 0x600dL);
            CompletableFuture<Long> received = friend.receive(TAG, buffer);
            assertEquals(MESSAGE, toFriend.send(TAG, data).get(30, TimeUnit.SECONDS), "other peers are still sent to");
            assertEquals(MESSAGE, received.get(30, TimeUnit.SECONDS));
            assertEquals(-1, buffer.mismatch(data), "intact");
            assertFalse(heldSend.isDone(), "UCX still holds the caller's chunks");
        }
        assertEquals(Ucp.ERR_TIMED_OUT, failure(heldSend).status(), "completed once the node closed (its worker, and"
                + " UCX's hold, gone) with why it failed: its timeout");
    }

    /** A peer that takes the chunks late ends the held send, and sends to it start again. */
    @Test
    void aHeldSendThatEndsShouldLetSendsStartAgain() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared();
             Node node = loopback("sender").listen(new InetSocketAddress("127.0.0.1", 0))
                     .timeout(Duration.ofSeconds(1)).build();
             RawUcxPeer hostile = new RawUcxPeer()) {
            Endpoint toHostile = greet(node, hostile);
            int standing = node.operations();
            MemorySegment data = arena.allocate(MESSAGE, 4096);
            CompletableFuture<Long> heldSend = holdChunks(toHostile, hostile, data);
            assertEquals(Ucp.ERR_BUSY, failure(toHostile.send(TAG, data)).status(), "held");

            awaitEquals(standing, () -> { // the chunks, truncated, end their sends all the same
                hostile.discardArrived();
                return node.operations();
            }, "the node's operations: the held send never ended");
            assertEquals(Ucp.ERR_TIMED_OUT, failure(heldSend).status(), "UCX let go of the chunks: the send failed");
            CompletableFuture<Long> again = toHostile.send(TAG, data);
            assertFalse(again.isDone(), "started, not refused as busy");
            awaitEquals(standing, () -> {
                hostile.discardArrived();
                return node.operations();
            }, "the node's operations: the second send never ended");
            assertEquals(Ucp.ERR_TIMED_OUT, failure(again).status(), "started, and timed out");
        }
    }

    /**
     * Eager sends to a peer that stopped receiving time out while UCX still holds them; once their
     * futures completed the caller unmaps their buffers, and the peer then takes everything. UCX
     * must have held copies of the node's, not the caller's buffers (it copied from the unmapped
     * memory, and the JVM died); and after the timeout, sends UCX would have to hold fail at once.
     * In a child JVM: the failure is the end of a process.
     */
    @Test
    void eagerSendsThatTimedOutShouldLeaveNoCallersBufferWithUcx() throws Exception {
        UcxTestSupport.assumeUcx();
        ChildJvm probe = ChildJvm.run(List.of(), StalledPeerProbe.class, "300", "4096", "20");
        assertEquals("true", probe.text("survived"));
        assertTrue(probe.value("timedOut") > 0, "the peer's queue filled and later sends timed out");
        assertEquals(300, probe.value("sent") + probe.value("timedOut"));
        assertEquals(20, probe.value("busy"), "after a timeout, sends that UCX would hold fail at once");
        assertEquals(300, probe.value("intact"), "every message arrived late but whole, with its own bytes");
        assertEquals(0, probe.value("heldOps"), "the held sends ended once the peer took them");
    }

    /** Says hello to {@code node} as {@code hostile} and returns the node's endpoint to it. */
    private static Endpoint greet(Node node, RawUcxPeer hostile) {
        assertNotNull(hostile.greet(node, 0x1234, 77), "the node replied to the hello");
        return GoodPeer.accepted(node);
    }

    /**
     * Sends {@code data} to a peer that takes its header and none of its chunks: the send passes
     * its timeout (1 s) held, its future not done, for UCX still holds the caller's chunks.
     */
    private static CompletableFuture<Long> holdChunks(Endpoint toHostile, RawUcxPeer hostile, MemorySegment data) {
        CompletableFuture<Long> send = toHostile.send(TAG, data);
        assertNotNull(hostile.receive(TAG | Tags.RTS_BIT, 20_000), "the header came; its chunks are not taken");
        assertThrows(TimeoutException.class, () -> send.get(3, TimeUnit.SECONDS),
                "the future waits past the node's timeout while UCX holds the chunks");
        return send;
    }

    private static TransportException failure(CompletableFuture<Long> send) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> send.get(30, TimeUnit.SECONDS));
        return assertInstanceOf(TransportException.class, e.getCause());
    }
}
