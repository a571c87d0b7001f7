package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.ucx.UcxWorker;

/**
 * A hostile peer that speaks UCX directly (it has the node's worker address) forges rendezvous
 * headers no memreg sender sends: the receive each matches fails with a clear error, and the node
 * serves on. Before, a length of zero or less completed the receive with that length, and a
 * header shorter than 24 bytes was read on past the buffer.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForgedHeaderTest {
    @ParameterizedTest(name = "length {0}")
    @ValueSource(longs = {-5, 0, Long.MIN_VALUE})
    void aHeaderWithALengthNoSenderSendsShouldFailTheReceiveAndTheNodeServeOn(long length) throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = GoodPeer.loopback("target").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             UcxContext context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
             UcxWorker hostile = UcxWorker.create(context);
             Arena arena = Arena.ofShared()) {
            long ep = hostile.connect(NodeAddress.parse(node.workerAddress()).ucx(), Ucp.ERR_HANDLING_MODE_NONE);
            MemorySegment buffer = arena.allocate(64 << 10);
            CompletableFuture<Long> received = node.receive(7, buffer);
            MemorySegment header = arena.allocate(RendezvousSendOp.HEADER_BYTES, 8);
            header.set(JAVA_LONG, 0, length);
            header.set(JAVA_LONG, 8, 0x1234);
            header.set(JAVA_LONG, 16, 0xbad);
            complete(hostile, hostile.tagSend(ep, header.address(), header.byteSize(), 7 | Tags.RTS_BIT, 0));
            Throwable failure = assertThrows(ExecutionException.class, () -> received.get(20, TimeUnit.SECONDS),
                    "a receive matched by a forged header").getCause();
            assertInstanceOf(TransportException.class, failure);
            assertTrue(failure.getMessage().contains("malformed rendezvous header"), failure.getMessage());
            GoodPeer.assertServed(node, b -> b);
            MemorySegment message = arena.allocate(8, 8);
            message.set(JAVA_LONG, 0, 99);
            CompletableFuture<Long> next = node.receive(7, buffer);
            complete(hostile, hostile.tagSend(ep, message.address(), 8, 7, 0));
            assertEquals(8, next.get(20, TimeUnit.SECONDS), "the tag still receives");
            assertEquals(99, buffer.get(JAVA_LONG, 0));
            complete(hostile, hostile.closeEndpoint(ep, false));
        }
    }

    /**
     * A header message shorter than a header, into a buffer just as short: the header's message
     * id and sender must not be read from the memory after the buffer (the old code did, and
     * refused the message to the node id it found there; at the end of a mapping, a SIGSEGV).
     */
    @Test
    void aShortHeaderShouldFailTheReceiveWithoutReadingPastTheBuffer() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = GoodPeer.loopback("target").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             UcxContext context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
             UcxWorker hostile = UcxWorker.create(context);
             Arena arena = Arena.ofShared()) {
            long ep = hostile.connect(NodeAddress.parse(node.workerAddress()).ucx(), Ucp.ERR_HANDLING_MODE_NONE);
            MemorySegment around = arena.allocate(RendezvousSendOp.HEADER_BYTES, 8);
            around.set(JAVA_LONG, 16, 0xfeed); // a "sender" after the 8-byte buffer
            CompletableFuture<Long> received = node.receive(7, around.asSlice(0, 8));
            MemorySegment shortHeader = arena.allocate(8, 8);
            shortHeader.set(JAVA_LONG, 0, 4096);
            complete(hostile, hostile.tagSend(ep, shortHeader.address(), 8, 7 | Tags.RTS_BIT, 0));
            Throwable failure = assertThrows(ExecutionException.class, () -> received.get(20, TimeUnit.SECONDS))
                    .getCause();
            assertInstanceOf(TransportException.class, failure);
            assertTrue(failure.getMessage().contains("malformed rendezvous header: 8 bytes"), failure.getMessage());
            GoodPeer.assertServed(node, b -> b);
            complete(hostile, hostile.closeEndpoint(ep, false));
        }
    }

    /** Progresses {@code worker} until {@code request} is done, then frees it. */
    private static void complete(UcxWorker worker, long request) {
        while (Ucp.isRequest(request) && Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
            worker.progress();
        }
        if (Ucp.isRequest(request)) {
            Ucp.requestFree(request);
        }
    }
}
