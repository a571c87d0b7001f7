package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Unprivileged;

/**
 * A caller that closes a buffer's arena while memreg's operation on it is pending breaks the
 * contract where memreg cannot hold the arena open (a receive not yet begun; {@link HeldArenaTest}
 * for the shared arenas it holds, {@link ConfinedArenaTest} for confined ones, whose memory UCX
 * never keeps): the operation's future must not then report success, and a rendezvous message
 * must not go on into memory that may be someone else's, nor out of it. The buffers here are the
 * test's own mapping seen through an arena ({@link ArenaMapping}).
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClosedWhileLentTest {
    private static final long TAG = 9;
    private static final long MAPPING = 4 << 20;
    private LoopbackPair pair;
    private ArenaMapping mapping;
    private Arena lent;

    @BeforeEach
    void connect() {
        pair = LoopbackPair.connect(b -> b.timeout(Duration.ofSeconds(2)).eagerBytes(1024).chunkBytes(4096).pipelineDepth(1));
        mapping = new ArenaMapping(MAPPING, Arena.ofShared());
        lent = mapping.arena();
    }

    @AfterEach
    void close() {
        if (lent.scope().isAlive()) {
            lent.close();
        }
        pair.close();
        mapping.close();
    }

    /** The first {@code bytes} of the test's mapping, in the arena the test closes as a careless caller would. */
    private MemorySegment lentBuffer(long bytes) {
        return mapping.through(lent).asSlice(0, bytes);
    }

    private MemorySegment mapped() {
        return mapping.mapped();
    }

    private MemorySegment message(long bytes) {
        MemorySegment message = pair.arena().allocate(bytes, 4096);
        message.fill((byte) 0x5a);
        return message;
    }

    private static Throwable failure(CompletableFuture<?> future) {
        return assertThrows(ExecutionException.class, () -> future.get(20, TimeUnit.SECONDS)).getCause();
    }

    /** A receive whose buffer's arena closed before its message came: dropped, the cause naming the closed arena. */
    private static void assertBufferGone(Throwable e) {
        assertInstanceOf(TransportException.class, e, String.valueOf(e));
        assertTrue(e.getMessage().contains("buffer was gone") || e.getMessage().contains("buffer is gone"), e.getMessage());
        assertInstanceOf(IllegalStateException.class, e.getCause(), String.valueOf(e.getCause()));
    }

    /** Nothing of a message landed in the first {@code bytes} of the mapping. */
    private void assertUntouched(long bytes) {
        assertEquals(-1, mapped().asSlice(0, bytes).mismatch(MemorySegment.ofArray(new byte[(int) bytes])),
                "the message landed in the buffer after its arena closed");
    }

    @Test
    void anEagerReceiveWhoseArenaClosedShouldFailNotDeliver() throws Exception {
        CompletableFuture<Long> received = pair.server().receive(TAG, lentBuffer(64));
        lent.close();
        assertEquals(64, pair.endpoint().send(TAG, message(64)).get(20, TimeUnit.SECONDS), "the sender did its part");
        assertBufferGone(failure(received));
        assertUntouched(64);
        GoodPeer.assertServed(pair.server());
    }

    @Test
    void aRendezvousMessageForAReceiveWhoseArenaClosedShouldBeRefusedBeforeAnyChunkLands() throws Exception {
        long bytes = 1 << 20;
        CompletableFuture<Long> received = pair.server().receive(TAG, lentBuffer(bytes));
        lent.close();
        Throwable refused = failure(pair.endpoint().send(TAG, message(bytes)));
        assertInstanceOf(TransportException.class, refused);
        assertTrue(refused.getMessage().contains("lost its buffer"), refused.getMessage());
        assertBufferGone(failure(received));
        assertUntouched(bytes); // the header too: it lands in the node's own memory
        GoodPeer.assertServed(pair.server());
    }

    /**
     * A confined arena, which no other thread can hold open, closed by its owner right after a
     * rendezvous send began, and its memory then written by the allocator's next user: UCX reads a
     * copy made in the call ({@link ConfinedMemory}), so the peer gets what the memory held at the
     * call, whole, and nothing of what came after.
     */
    @Test
    void aRendezvousSendFromAConfinedArenaShouldSendWhatItHeldAtTheCall() throws Exception {
        long bytes = 256 << 10; // 64 chunks, one at a time: far from done when the arena closes
        Arena confined = Arena.ofConfined();
        MemorySegment data = mapping.through(confined).asSlice(0, bytes);
        data.fill((byte) 0x5a);
        CompletableFuture<Long> sent = pair.endpoint().send(TAG, data);
        confined.close();
        mapped().asSlice(0, bytes).fill((byte) 0x11); // the freed memory's next owner writes its own bytes
        MemorySegment into = pair.arena().allocate(bytes, 4096);
        CompletableFuture<Long> received = pair.server().receive(TAG, into);
        assertEquals(bytes, received.get(20, TimeUnit.SECONDS));
        assertEquals(bytes, sent.get(20, TimeUnit.SECONDS));
        long foreign = 0;
        for (long i = 0; i < bytes; i++) {
            foreign += into.get(JAVA_BYTE, i) == 0x5a ? 0 : 1;
        }
        assertEquals(0, foreign, "bytes that were not the message's at the call reached the peer");
        GoodPeer.assertServed(pair.server());
    }
}
