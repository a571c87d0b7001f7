package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * A node holds at most {@code maxPeers} connections: a peer sending UCX hellos under new node ids
 * in a loop gets that many endpoints and no more, the node's own connect beyond it fails clearly,
 * the listener refuses clients as busy, and a closed connection frees its place.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConnectionLimitTest {
    private static final long SEED = TestSeeds.seed("ConnectionLimitTest");

    @Test
    void aHelloFloodShouldGetNoMoreEndpointsThanTheLimit() throws Exception {
        UcxTestSupport.assumeUcx();
        SplittableRandom random = new SplittableRandom(SEED);
        try (Node node = loopback("limited").maxPeers(3).build(); RawUcxPeer hostile = new RawUcxPeer()) {
            long first = random.nextLong() | 1;
            hostile.hello(node, first, 1, hostile.address());
            for (int i = 0; i < 20; i++) {
                hostile.hello(node, random.nextLong() | 1, 2 + i, hostile.address());
            }
            // one sender's messages are taken in order: once the first id's new hello is answered,
            // every hello before it was handled
            hostile.hello(node, first, 99, hostile.address());
            assertNotNull(hostile.receive(Tags.REPLY | 99, 20_000), "the node answers a peer it holds");
            List<Endpoint> accepted = drain(node);
            assertEquals(3, accepted.size(), "endpoints made for 22 hellos under 21 ids, limit 3");

            accepted.getFirst().close(); // frees a place
            long late = random.nextLong() | 1;
            hostile.hello(node, late, 100, hostile.address());
            MemorySegment reply = hostile.receive(Tags.REPLY | 100, 20_000);
            assertNotNull(reply, "a new peer is answered once a place is free");
            assertEquals(node.id(), reply.get(JAVA_LONG, 0));
            assertEquals(1, drain(node).size());
            hostile.hello(node, random.nextLong() | 1, 101, hostile.address());
            assertNull(hostile.receive(Tags.REPLY | 101, 500), "and the limit holds again");
            hostile.discardArrived(); // the answers to the hellos before
        }
    }

    @Test
    void aConnectBeyondTheLimitShouldFailClearlyUntilOneCloses() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = loopback("limited").maxPeers(1).build();
             Node one = loopback("one").build();
             Node two = loopback("two").build()) {
            Endpoint toOne = node.connect(one.workerAddress());
            TransportException e = assertThrows(TransportException.class, () -> node.connect(two.workerAddress()));
            assertEquals(Ucp.ERR_EXCEEDS_LIMIT, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains("limit of 1 connections (memreg.transport.maxPeers)"), e.getMessage());
            toOne.close();
            node.connect(two.workerAddress()).close();
        }
    }

    @Test
    void theListenerShouldRefuseClientsAsBusyAtTheLimitAndServeThemOnceOneCloses() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = loopback("limited").maxPeers(1).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node first = loopback("first").build();
             Node hasty = loopback("hasty").connectTimeout(Duration.ofMillis(300)).build()) {
            Endpoint held = first.connect("127.0.0.1", server.port());
            TransportException busy = assertThrows(TransportException.class,
                    () -> hasty.connect("127.0.0.1", server.port()));
            assertTrue(busy.getMessage().contains("limit of 1 connections"), busy.getMessage());
            assertTrue(server.handshakeStats().refused() > 0, server.handshakeStats().toString());
            held.close(); // the server's endpoint goes with the goodbye
            GoodPeer.assertServed(server);
        }
    }

    @Test
    void peersThatComeAndGoShouldLeaveLittleBehind() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = loopback("churned").maxPeers(4).build(); RawUcxPeer churner = new RawUcxPeer()) {
            int operations = node.operations();
            churn(node, churner, 0, 6_000); // past the 4,096 failures kept, and warm
            long before = usedHeapAfterGc(node, operations, churner);
            churn(node, churner, 6_000, 16_000);
            long after = usedHeapAfterGc(node, operations, churner);
            double perPeer = (after - before) / 10_000.0;
            System.out.printf("heap before %,d, after %,d bytes: %.1f bytes per peer that came and went%n", before,
                    after, perPeer);
            // each failure kept for good was about 1,000 bytes, the tokens of each peer ever met about 100
            assertTrue(perPeer < 40, perPeer + " bytes of heap kept per peer that came and went");
        }
    }

    /** Peers {@code from} to {@code to} (exclusive) each say hello and goodbye. */
    private static void churn(Node node, RawUcxPeer churner, long from, long to) {
        for (long id = from + 1; id <= to; id++) {
            churner.hello(node, id, id, churner.address());
            MemorySegment reply = churner.receive(Tags.REPLY | id, 20_000);
            assertNotNull(reply, "peer " + id + " is answered");
            churner.send(node, Tags.BYE, id, reply.get(JAVA_LONG, 8));
            assertNotNull(node.accepted());
        }
    }

    /**
     * The heap in use after a few GCs, once {@code node} has no more operations than
     * {@code operations}. Meanwhile {@code peer} takes what the node sends it: a node's send to a
     * peer that progresses no more can wait for it for good (under load, the last answers of a
     * burst were still in flight when the peer's own progress stopped).
     */
    static long usedHeapAfterGc(Node node, int operations, RawUcxPeer peer) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (node.operations() > operations) { // closes, flushes and sends still under way
            assertTrue(System.nanoTime() < deadline, node.operations() + " operations, " + operations + " before");
            peer.discardArrived();
            Thread.sleep(1);
        }
        for (int i = 0; i < 5; i++) { // control messages go out of automatic arenas: freed by the cleaner after a GC
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static List<Endpoint> drain(Node node) {
        List<Endpoint> endpoints = new ArrayList<>();
        for (Endpoint e; (e = node.accepted()) != null;) {
            endpoints.add(e);
        }
        return endpoints;
    }
}
