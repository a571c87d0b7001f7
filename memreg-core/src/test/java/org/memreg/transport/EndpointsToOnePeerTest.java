package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.device.Access;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A node may open several endpoints to one peer (a pool of connections), and the peer serves
 * them all with one endpoint of its own. Closing one of them must leave the others whole: the
 * peer still answers their requests and, above all, still revokes the keys attached through
 * them. Before, the goodbye of the first endpoint closed made the peer drop its only endpoint
 * back, so it answered no describe of the others and revoked none of their keys when a window
 * closed: a put through such a key succeeded into the memory of a window its owner had closed.
 * And a peer's goodbye fails every endpoint to it, not one of them.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EndpointsToOnePeerTest {
    /** The node timeout: a describe nobody answers fails after it. */
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @ParameterizedTest(name = "the {0} endpoint closes")
    @ValueSource(strings = {"first", "latest"})
    void closingOneOfTwoEndpointsShouldLeaveTheOtherWholeAndItsKeysRevocable(String closes) throws Exception {
        try (LoopbackPair pair = LoopbackPair.connect(node -> node.timeout(TIMEOUT))) {
            Node owner = pair.server();
            Node peer = pair.client();
            Arena arena = pair.arena();
            Endpoint first = pair.endpoint();
            Endpoint latest = peer.connect("127.0.0.1", owner.port());
            Endpoint back = GoodPeer.accepted(owner); // the owner's one endpoint to the peer, for both
            Endpoint kept = closes.equals("first") ? latest : first;
            MemorySegment ownerMemory = arena.allocate(8192, 4096).asSlice(0, 4096); // the owner's, window or not
            Window window = owner.registerWindow(ownerMemory, Access.ALL);
            RemoteWindow attached = kept.attach(window.key());
            MemorySegment word = arena.allocate(8, 8);
            word.set(JAVA_LONG, 0, 0x5eed);
            attached.put(0, word).get(20, TimeUnit.SECONDS);
            attached.flush().get(20, TimeUnit.SECONDS);
            assertEquals(0x5eed, ownerMemory.get(JAVA_LONG, 0), "a put before the close");

            (closes.equals("first") ? first : latest).close();

            assertTrue(kept.isUsable(), "the other endpoint");
            assertTrue(back.isUsable(), "the owner's endpoint back: it serves the other endpoint too");
            try (Window fresh = owner.allocateWindow(4096, Access.ALL)) { // the owner answers its describe
                RemoteWindow remote = kept.attach(fresh.key());
                remote.put(8, word).get(20, TimeUnit.SECONDS);
                remote.flush().get(20, TimeUnit.SECONDS);
                assertEquals(0x5eed, fresh.segment().get(JAVA_LONG, 8), "a put through a key attached after the close");
            }
            try (Window peers = peer.allocateWindow(4096, Access.ALL)) { // and the peer answers the owner's
                RemoteWindow remote = back.attach(peers.key());
                remote.put(16, word).get(20, TimeUnit.SECONDS);
                remote.flush().get(20, TimeUnit.SECONDS);
                assertEquals(0x5eed, peers.segment().get(JAVA_LONG, 16), "a put the other way");
            }

            window.close(); // the memory is the owner's again: no peer may write into it now
            ownerMemory.fill((byte) 0);
            word.set(JAVA_LONG, 0, 0xbad);
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> attached.put(0, word).get(20, TimeUnit.SECONDS), "a put through the revoked key");
            assertInstanceOf(StaleWindowException.class, refused.getCause(), refused.getCause().toString());
            assertEquals(0, ownerMemory.get(JAVA_LONG, 0), "the closed window's memory untouched");
        }
    }

    /**
     * The first endpoint closes while a second one's hello is with the owner, not yet answered
     * (the owner does not progress meanwhile): a goodbye would reach the owner after that hello,
     * over the same shared memory, and fail the endpoint it had just given the second one.
     */
    @Test
    void closingAnEndpointWhileAnotherToThePeerConnectsShouldLeaveTheNewOneWhole() throws Exception {
        UcxTestSupport.assumeUcx();
        try (PausableNode owner = new PausableNode(loopback("owner").timeout(TIMEOUT)
                     .listen(new InetSocketAddress("127.0.0.1", 0)));
             Node peer = loopback("peer").timeout(TIMEOUT).build()) {
            Endpoint first = peer.connect("127.0.0.1", owner.node.port());
            Endpoint back = GoodPeer.accepted(owner.node);
            int before = peer.engine().operations();
            owner.pause();
            CompletableFuture<Endpoint> second = CompletableFuture.supplyAsync(
                    () -> peer.connect("127.0.0.1", owner.node.port()));
            while (peer.engine().operations() == before && !second.isDone()) { // its hello is out, its reply awaited
                Thread.onSpinWait();
            }
            first.close();
            owner.resume();
            Endpoint latest = second.get(20, TimeUnit.SECONDS);
            assertTrue(back.isUsable(), "the owner's endpoint back: it serves the new endpoint");
            try (Window window = owner.node.allocateWindow(4096, Access.ALL)) {
                latest.attach(window.key()); // the owner answers its describe
            }
            assertTrue(latest.isUsable(), "the new endpoint");
        }
    }

    @Test
    void aPeersGoodbyeShouldFailEveryEndpointToIt() throws Exception {
        try (LoopbackPair pair = LoopbackPair.connect(node -> node.timeout(TIMEOUT))) {
            Node owner = pair.server();
            Arena arena = pair.arena();
            Endpoint first = pair.endpoint();
            Endpoint latest = pair.client().connect("127.0.0.1", owner.port());
            MemorySegment ownerMemory = arena.allocate(8192, 4096).asSlice(0, 4096);
            Window window = owner.registerWindow(ownerMemory, Access.ALL);
            RemoteWindow viaFirst = first.attach(window.key());
            RemoteWindow viaLatest = latest.attach(window.key());

            GoodPeer.accepted(owner).close(); // the owner says goodbye: it will revoke nothing to this peer now
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while ((first.isUsable() || latest.isUsable()) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertFalse(first.isUsable(), "the first endpoint failed on the goodbye");
            assertFalse(latest.isUsable(), "and the latest");

            window.close();
            ownerMemory.fill((byte) 0);
            MemorySegment word = arena.allocate(8, 8);
            word.set(JAVA_LONG, 0, 0xbad);
            for (RemoteWindow remote : new RemoteWindow[] {viaFirst, viaLatest}) {
                CompletableFuture<Void> put;
                try {
                    put = remote.put(0, word);
                } catch (TransportException e) {
                    continue; // refused at once: as good
                }
                assertThrows(ExecutionException.class, () -> put.get(20, TimeUnit.SECONDS), "a put via " + remote);
            }
            assertEquals(0, ownerMemory.get(JAVA_LONG, 0), "the closed window's memory untouched");
        }
    }
}
