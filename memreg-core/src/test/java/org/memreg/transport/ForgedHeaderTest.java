package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A hostile peer that speaks UCX directly (it has the node's worker address) forges rendezvous
 * headers no memreg sender sends: the receive each matches fails with a clear error, and the node
 * serves on. Before, a length of zero or less completed the receive with that length, and a
 * header message shorter than 24 bytes (a header then) was read on past the buffer.
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForgedHeaderTest {
    private Node node;
    private RawUcxPeer hostile;
    private Arena arena;

    @BeforeEach
    void start() {
        UcxTestSupport.assumeUcx();
        node = GoodPeer.loopback("target").listen(new InetSocketAddress("127.0.0.1", 0)).build();
        hostile = new RawUcxPeer();
        arena = Arena.ofShared();
    }

    @AfterEach
    void stop() {
        if (node != null) {
            hostile.close();
            node.close();
            arena.close();
        }
    }

    @ParameterizedTest(name = "length {0}")
    @ValueSource(longs = {-5, 0, Long.MIN_VALUE})
    void aHeaderWithALengthNoSenderSendsShouldFailTheReceiveAndTheNodeServeOn(long length) throws Exception {
        MemorySegment buffer = arena.allocate(64 << 10);
        CompletableFuture<Long> received = node.receive(7, buffer);
        hostile.send(node, 7 | Tags.RTS_BIT, length, 0x1234, 0xbad, 4096); // length, id, sender, chunk size
        assertReceiveFails(received, "malformed rendezvous header");
        CompletableFuture<Long> next = node.receive(7, buffer);
        hostile.send(node, 7, 99);
        assertEquals(8, next.get(20, TimeUnit.SECONDS), "the tag still receives");
        assertEquals(99, buffer.get(JAVA_LONG, 0));
    }

    /** A header that announces chunks smaller than a page: no memreg sender sends them. */
    @Test
    void aHeaderWithChunksBelowAPageShouldFailTheReceive() throws Exception {
        CompletableFuture<Long> received = node.receive(7, arena.allocate(64 << 10));
        hostile.send(node, 7 | Tags.RTS_BIT, 8192, 0x1234, 0xbad, 8);
        assertReceiveFails(received, "malformed rendezvous header: from node 0000000000000bad, chunk size 8");
    }

    /**
     * A chunk shorter than its header announced fails the receive: taken for a whole chunk, it
     * left the chunks after it at the wrong offsets and the receive completed with stale bytes.
     */
    @Test
    void aChunkShorterThanAnnouncedShouldFailTheReceive() throws Exception {
        CompletableFuture<Long> received = node.receive(7, arena.allocate(64 << 10, 4096));
        long id = 0x1234;
        hostile.send(node, 7 | Tags.RTS_BIT, 8192, id, 0xbad, 4096); // two chunks of 4 KiB
        hostile.send(node, Tags.CHUNK | id, 1, 2); // 16 bytes
        hostile.send(node, Tags.CHUNK | id, new long[512]); // a whole chunk
        assertReceiveFails(received, "a chunk of 16 bytes where 4096 were expected");
    }

    /**
     * A header message shorter than a header, into a buffer just as short: the header's message
     * id and sender must not be read from the memory after the buffer (the old code did, and
     * refused the message to the node id it found there; at the end of a mapping, a SIGSEGV).
     */
    @Test
    void aShortHeaderShouldFailTheReceiveWithoutReadingPastTheBuffer() throws Exception {
        MemorySegment around = arena.allocate(RendezvousSendOp.HEADER_BYTES, 8);
        around.set(JAVA_LONG, 16, 0xfeed); // a "sender" after the 8-byte buffer
        CompletableFuture<Long> received = node.receive(7, around.asSlice(0, 8));
        hostile.send(node, 7 | Tags.RTS_BIT, 4096);
        assertReceiveFails(received, "malformed rendezvous header: 8 bytes");
    }

    /**
     * An eager message above {@link NodeBuilder#MAX_EAGER_BYTES}, which no memreg sender sends, into
     * a buffer large enough for it: the receive's first part lands in the node's own memory, at
     * most that large, so the receive fails as truncated, whether the message came before the
     * receive (held) or after, and the node serves on.
     */
    @ParameterizedTest(name = "receive posted first: {0}")
    @ValueSource(booleans = {true, false})
    void anEagerMessageAboveTheLimitShouldFailTheReceiveNotOverrunTheStaging(boolean receiveFirst) throws Exception {
        MemorySegment message = arena.allocate(NodeBuilder.MAX_EAGER_BYTES + 4096, 8).fill((byte) 0x5a);
        MemorySegment buffer = arena.allocate(1 << 20, 8);
        CompletableFuture<Long> received = receiveFirst ? node.receive(7, buffer) : null;
        hostile.sendAndGo(node, 7, message);
        for (int i = 0; i < 1000 && hostile.inFlight() > 0; i++) {
            Thread.sleep(1); // UCX's own rendezvous: the hostile peer progresses it
        }
        if (!receiveFirst) {
            received = node.receive(7, buffer); // the node took it off UCX and held it
        }
        assertReceiveFails(received, "an eager message larger than " + NodeBuilder.MAX_EAGER_BYTES + " bytes");
        assertEquals(-1, buffer.mismatch(arena.allocate(buffer.byteSize())), "nothing of it in the buffer");
    }

    /** The receive fails with a {@link TransportException} saying {@code expected}, and the node serves a new peer. */
    private void assertReceiveFails(CompletableFuture<Long> received, String expected) throws Exception {
        Throwable failure = assertThrows(ExecutionException.class, () -> received.get(20, TimeUnit.SECONDS),
                "a receive matched by a forged message").getCause();
        assertInstanceOf(TransportException.class, failure);
        assertTrue(failure.getMessage().contains(expected), failure.getMessage());
        GoodPeer.assertServed(node, b -> b);
    }
}
