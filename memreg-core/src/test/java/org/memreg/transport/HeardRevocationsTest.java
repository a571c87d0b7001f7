package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.ucx.UcxMemory;
import org.memreg.ucx.UcxTestSupport;

/**
 * What a node does with the revocations it hears: an attach whose description came before the
 * revocation fails, and nothing is kept per revocation. Every revocation was once kept for good, one entry
 * per window a peer ever closed or invalidated: a node whose peers made and closed windows in a
 * loop grew without bound, and a peer could grow it as fast as it sent revocations (about 110
 * bytes of heap each).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HeardRevocationsTest {
    private static final int REVOCATIONS = 100_000;
    private static final long PAGE = 4096;

    @Test
    void revocationsOfWindowsNeverAttachedShouldLeaveNothingBehind() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = loopback("flooded").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer peer = new RawUcxPeer()) {
            long id = 0x5eed;
            peer.hello(node, id, 1, peer.address());
            MemorySegment reply = peer.receive(Tags.REPLY | 1, 20_000);
            assertNotNull(reply, "the node answers the hello");
            long token = reply.get(JAVA_LONG, 8); // what this peer shows on its control messages
            assertNotNull(GoodPeer.accepted(node));
            int operations = node.operations();
            revoke(peer, node, id, token, 0, 1_000); // warm up: the node's first revocations load and compile code
            long before = ConnectionLimitTest.usedHeapAfterGc(node, operations, peer);
            revoke(peer, node, id, token, 1_000, REVOCATIONS);
            long after = ConnectionLimitTest.usedHeapAfterGc(node, operations, peer);
            peer.discardArrived();
            double perRevocation = (double) (after - before) / REVOCATIONS;
            System.out.printf("heap before %,d, after %,d bytes: %.1f bytes per revocation%n", before, after,
                    perRevocation);
            assertTrue(perRevocation < 16, perRevocation + " bytes of heap kept per revocation heard");
            GoodPeer.assertServed(node);
        }
    }

    @Test
    void aRevocationBetweenTheDescriptionAndTheUnpackShouldFailTheAttach() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = loopback("attaching").build(); RawUcxPeer owner = new RawUcxPeer();
             UcxMemory memory = owner.allocate(PAGE); Arena arena = Arena.ofShared()) {
            long id = 0x0ae7;
            owner.hello(node, id, 1, owner.address());
            MemorySegment reply = owner.receive(Tags.REPLY | 1, 20_000);
            assertNotNull(reply, "the node answers the hello");
            long token = reply.get(JAVA_LONG, 8);
            Endpoint toOwner = GoodPeer.accepted(node);
            byte[] rkey = memory.packRkey();

            WindowKey kept = new WindowKey(id, 6, 1, memory.address(), PAGE, Access.ALL, rkey);
            CompletableFuture<RemoteWindow> attach = CompletableFuture.supplyAsync(() -> toOwner.attach(kept));
            describe(owner, node, arena, kept);
            assertEquals(kept, attach.get(20, TimeUnit.SECONDS).key(), "described and not revoked: attached");

            WindowKey revoked = new WindowKey(id, 7, 1, memory.address(), PAGE, Access.ALL, rkey);
            CompletableFuture<RemoteWindow> late = CompletableFuture.supplyAsync(() -> toOwner.attach(revoked));
            long requestId = describeRequest(owner, revoked);
            owner.send(node, Tags.REVOKE, id, token, revoked.windowId(), revoked.generation(), 99);
            answer(owner, node, arena, requestId, revoked); // described before it was revoked, taken after
            Throwable stale = assertThrows(ExecutionException.class, () -> late.get(20, TimeUnit.SECONDS)).getCause();
            assertInstanceOf(StaleWindowException.class, stale, stale.toString());
            assertTrue(stale.getMessage().contains("revoked by its owner"), stale.getMessage());
        }
    }

    /** Answers the node's request to describe {@code key} with the key itself. */
    private static void describe(RawUcxPeer owner, Node node, Arena arena, WindowKey key) {
        answer(owner, node, arena, describeRequest(owner, key), key);
    }

    /** Takes the node's request to describe {@code key}: its request id. */
    private static long describeRequest(RawUcxPeer owner, WindowKey key) {
        MemorySegment request = owner.receive(Tags.DESCRIBE, 20_000);
        assertNotNull(request, "the node asks the owner");
        assertEquals(key.windowId(), request.get(JAVA_LONG, 24));
        return request.get(JAVA_LONG, 16);
    }

    private static void answer(RawUcxPeer owner, Node node, Arena arena, long requestId, WindowKey key) {
        byte[] bytes = new Description(Description.Status.OK, key, -1).toBytes();
        MemorySegment description = arena.allocate(bytes.length, 8);
        description.copyFrom(MemorySegment.ofArray(bytes));
        owner.send(node, Tags.DESCRIPTION | requestId, description);
    }

    /**
     * Revokes generation 1 of windows {@code from} to {@code to} (exclusive) in the peer's name,
     * then waits until the node took them all.
     */
    private static void revoke(RawUcxPeer peer, Node node, long id, long token, long from, long to) {
        for (long window = from; window < to; window++) {
            peer.send(node, Tags.REVOKE, id, token, window, 1, window);
            if (window % 1024 == 0) {
                peer.discardArrived(); // the acknowledgements
            }
        }
        long nonce = 2 + to; // one sender's messages are taken in order: the answer to a hello comes after them all
        peer.hello(node, id, nonce, peer.address());
        assertNotNull(peer.receive(Tags.REPLY | nonce, 60_000), "the node took the revocations");
    }
}
