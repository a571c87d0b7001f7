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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.ArenaHold;
import org.memreg.util.TestSeeds;

/**
 * A shared arena whose memory UCX uses outside any call (a rendezvous receive's chunks going into
 * it, a rendezvous send's read from it, a get writing into it) cannot be closed until the
 * operation is done: its close throws, the operation finishes with the caller's bytes, and the
 * arena closes as soon as the future is done. Each operation is stopped half-way by pausing the
 * peer's progress, so the close lands while UCX holds the memory. The memory is the test's own
 * mapping seen through the arena, so that a close that wrongly succeeds shows in the bytes instead
 * of crashing the JVM. Beyond the limit of arenas held at once, where the close goes through, the
 * operation fails as closed while lent.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HeldArenaTest {
    private static final long TAG = 11;
    private static final long BYTES = 4 << 20; // 1,024 chunks of 4 KiB, one at a time
    private ArenaMapping mapping;
    private Arena lent;

    @BeforeEach
    void map() {
        UcxTestSupport.assumeUcx();
        mapping = new ArenaMapping(BYTES, Arena.ofShared());
        lent = mapping.arena();
    }

    @AfterEach
    void unmap() {
        mapping.close();
    }

    private static NodeBuilder oneChunkAtATime(String name) {
        return loopback(name).eagerBytes(1024).chunkBytes(4096).pipelineDepth(1);
    }

    /** The caller's close under the operation: refused, the memory still the caller's. */
    private void assertCloseRefused(CompletableFuture<?> operation) {
        IllegalStateException refused = assertThrows(IllegalStateException.class, lent::close,
                "closed while UCX held its memory");
        assertTrue(refused.getMessage().contains("acquired"), refused.getMessage());
        assertTrue(lent.scope().isAlive());
        assertFalse(operation.isDone(), "the operation was stopped half-way");
    }

    @Test
    void aSharedArenaShouldNotCloseWhileARendezvousReceiveWritesIntoIt() throws Exception {
        try (Stalled receive = new Stalled(false, Duration.ofSeconds(30))) {
            assertCloseRefused(receive.received);
            receive.resume();
            assertEquals(BYTES, receive.received.get(30, TimeUnit.SECONDS));
            assertEquals(BYTES, receive.sent.get(30, TimeUnit.SECONDS));
            lent.close(); // at once: the future completed after the hold ended
            assertEquals(-1, mapping.mapped().mismatch(receive.theirs), "every byte of the message landed");
        }
    }

    @Test
    void aSharedArenaShouldNotCloseWhileARendezvousSendReadsIt() throws Exception {
        try (Stalled send = new Stalled(true, Duration.ofSeconds(30))) {
            assertCloseRefused(send.sent);
            send.resume();
            assertEquals(BYTES, send.sent.get(30, TimeUnit.SECONDS));
            lent.close();
            assertEquals(BYTES, send.received.get(30, TimeUnit.SECONDS));
            assertEquals(-1, send.theirs.mismatch(mapping.mapped()), "the receiver has the caller's bytes");
        }
    }

    /**
     * A careless caller closes real shared arenas (each buffer unmapped by its close) at random
     * moments of 8 MiB transfers over TCP ({@link CarelessCloserProbe}, in a child JVM: a close
     * that went through under UCX ends that process): the process lives, every close under a
     * transfer is refused, and no operation ends at a timeout.
     */
    @Test
    void aCarelessCloserShouldNeverFreeMemoryUnderATransfer() throws Exception {
        long seed = TestSeeds.seed("HeldArenaTest.aCarelessCloserShouldNeverFreeMemoryUnderATransfer");
        ChildJvm child = ChildJvm.run(Map.of("MALLOC_MMAP_THRESHOLD_", "131072"), List.of(), CarelessCloserProbe.class,
                Integer.toString(Integer.getInteger("memreg.test.closerRounds", 80)), Long.toString(seed), "shared");
        assertEquals("true", child.text("survived"), "the process lived on");
        assertTrue(child.value("refused") > 0, "some closes landed under a transfer");
        assertTrue(child.value("intact") > 0, "some messages were checked whole");
    }

    /**
     * Beyond {@link ArenaHold#MAX_HOLDS} arenas held at once an operation goes unheld: a careless
     * caller's close then goes through under it, and its future must fail as closed while lent
     * (UCX may have used freed memory) rather than report the transfer or a plain chunk failure.
     */
    @Test
    void aSendBeyondTheHoldLimitWhoseArenaClosesShouldFailAsClosedWhileLent() throws Exception {
        try (HoldLimit limit = HoldLimit.reach(); Stalled send = new Stalled(true, Duration.ofSeconds(2))) {
            lent.close(); // unheld: nothing refuses it
            send.resume();
            assertClosedWhileLent(send.sent);
            assertThrows(ExecutionException.class, () -> send.received.get(30, TimeUnit.SECONDS), "the message stopped");
            assertTrue(limit.held() > 0, "the limit was reached by the test's own holds");
        }
    }

    /** {@link #aSendBeyondTheHoldLimitWhoseArenaClosesShouldFailAsClosedWhileLent}, for a rendezvous receive. */
    @Test
    void aReceiveBeyondTheHoldLimitWhoseArenaClosesShouldFailAsClosedWhileLent() throws Exception {
        try (HoldLimit limit = HoldLimit.reach(); Stalled receive = new Stalled(false, Duration.ofSeconds(2))) {
            lent.close();
            receive.resume();
            assertClosedWhileLent(receive.received);
            assertThrows(ExecutionException.class, () -> receive.sent.get(30, TimeUnit.SECONDS), "the message stopped");
            assertTrue(limit.held() > 0, "the limit was reached by the test's own holds");
        }
    }

    private void assertClosedWhileLent(CompletableFuture<?> operation) {
        assertFalse(lent.scope().isAlive(), "the close went through");
        Throwable failure = assertThrows(ExecutionException.class, () -> operation.get(30, TimeUnit.SECONDS),
                "an operation whose arena closed under it reported success").getCause();
        assertInstanceOf(IllegalStateException.class, failure, String.valueOf(failure));
        assertTrue(failure.getMessage().contains("was closed before the operation was done"), failure.getMessage());
    }

    /**
     * A rendezvous transfer of {@link #BYTES} from or into the test's mapping in the lent arena,
     * stopped half-way: the other side, whose timeout is {@code timeout}, pauses once the first
     * chunk landed.
     */
    private final class Stalled implements AutoCloseable {
        private final PausableNode paused;
        private final Node running;
        private final Arena other = Arena.ofShared();
        /** The other side's memory: the receive's buffer, or the message. */
        final MemorySegment theirs = other.allocate(BYTES, 4096);
        final CompletableFuture<Long> received;
        final CompletableFuture<Long> sent;

        /** A send from the lent memory ({@code lentSends}), or a receive into it. */
        Stalled(boolean lentSends, Duration timeout) throws InterruptedException {
            NodeBuilder pausing = oneChunkAtATime(lentSends ? "receiver" : "sender").timeout(timeout);
            NodeBuilder runs = oneChunkAtATime(lentSends ? "sender" : "receiver");
            (lentSends ? pausing : runs).listen(new InetSocketAddress("127.0.0.1", 0));
            paused = new PausableNode(pausing);
            running = runs.build();
            Node receiver = lentSends ? paused.node : running;
            Node sender = lentSends ? running : paused.node;
            MemorySegment into = lentSends ? theirs : mapping.buffer();
            received = receiver.receive(TAG, into);
            sent = sender.connect("127.0.0.1", receiver.port()).send(TAG,
                    (lentSends ? mapping.buffer() : theirs).fill((byte) 0x5a));
            ArenaMapping.await(() -> into.get(JAVA_BYTE, 0) == 0x5a, "the first chunk");
            paused.pause();
            Thread.sleep(50); // the paused node's round under way ends
        }

        void resume() {
            paused.resume();
        }

        @Override
        public void close() throws InterruptedException {
            try (Arena closedLast = other; Node node = running) {
                paused.close();
            }
        }
    }

    /** Shared arenas of the test's own held until the next arena would go unheld ({@link ArenaHold#MAX_HOLDS}). */
    private static final class HoldLimit implements AutoCloseable {
        private final List<Arena> arenas = new ArrayList<>();
        private final List<ArenaHold> holds = new ArrayList<>();

        static HoldLimit reach() {
            HoldLimit limit = new HoldLimit();
            for (int i = 0; i <= ArenaHold.MAX_HOLDS; i++) {
                Arena arena = Arena.ofShared();
                limit.arenas.add(arena);
                ArenaHold hold = ArenaHold.of(arena.allocate(8));
                if (hold == ArenaHold.NONE) {
                    return limit;
                }
                limit.holds.add(hold);
                assertTrue(hold.await(), "held");
            }
            throw new AssertionError("more than " + ArenaHold.MAX_HOLDS + " arenas held at once");
        }

        int held() {
            return holds.size();
        }

        @Override
        public void close() {
            holds.forEach(ArenaHold::releaseAndWait);
            arenas.forEach(Arena::close);
        }
    }

    /** A get over TCP from an owner that stopped progressing: UCX writes the answer into the buffer whenever it comes. */
    @Test
    void aSharedArenaShouldNotCloseWhileAGetWritesIntoIt() throws Exception {
        try (StalledGet stalled = new StalledGet(mapping.buffer())) {
            assertCloseRefused(stalled.get);
            stalled.resume();
            stalled.get.get(30, TimeUnit.SECONDS);
            lent.close();
            assertEquals(-1, mapping.mapped().mismatch(stalled.window.segment()), "the owner's bytes");
        }
    }
}
