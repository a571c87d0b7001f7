package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.testkit.LogCapture;
import org.memreg.ucx.UcxTestSupport;

/**
 * A peer that closed its connection and connects again is a peer like any other: its messages,
 * eager and rendezvous, arrive over the new connection, both ways, and the control messages
 * that carry the peers' tokens (a window's description and revocation, a goodbye) are taken.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReconnectTest {
    private static final long BIG = 1 << 20; // rendezvous: above the eager limit

    @Test
    void aPeerThatClosedAndConnectedAgainShouldSendAndReceiveEverySize() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = loopback("server").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = loopback("client").build(); Arena arena = Arena.ofShared()) {
            for (int round = 0; round < 3; round++) {
                Endpoint toServer = client.connect("127.0.0.1", server.port());
                Endpoint toClient = GoodPeer.accepted(server);
                for (long bytes : new long[] {8, BIG}) {
                    assertArrives(toServer, server, bytes, round, arena);
                    assertArrives(toClient, client, bytes, round, arena);
                }
                try (Window window = server.allocateWindow(4096, Access.ALL)) { // describe, revoke: control messages
                    MemorySegment word = arena.allocate(8, 8).fill((byte) round);
                    toServer.attach(window.key()).put(0, word).get(20, TimeUnit.SECONDS);
                    assertEquals(-1, window.segment().asSlice(0, 8).mismatch(word), "round " + round + ": a put");
                }
                toServer.close(); // the server hears the goodbye: its endpoint fails
                while (toClient.isUsable()) {
                    Thread.sleep(1);
                }
            }
        }
    }

    @Test
    void goodbyesThatCrossShouldLogNoForgery() throws Exception {
        UcxTestSupport.assumeUcx();
        try (LogCapture log = LogCapture.of(Node.class);
             Node server = loopback("server").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = loopback("client").build(); Arena arena = Arena.ofShared();
             ExecutorService closers = Executors.newFixedThreadPool(2)) {
            for (int round = 0; round < 20; round++) { // a goodbye may come after the next connection is made
                Endpoint toServer = client.connect("127.0.0.1", server.port());
                Endpoint toClient = GoodPeer.accepted(server);
                Future<?> one = closers.submit(toServer::close);
                Future<?> other = closers.submit(toClient::close);
                one.get(20, TimeUnit.SECONDS);
                other.get(20, TimeUnit.SECONDS);
            }
            Endpoint toServer = client.connect("127.0.0.1", server.port());
            GoodPeer.accepted(server);
            Thread.sleep(200); // the last goodbyes taken: none closes the new connection
            assertFalse(log.text().contains("without the sender's token"), log.text());
            assertArrives(toServer, server, 8, 20, arena);

            // the control: a forgery is still told
            try (RawUcxPeer forger = new RawUcxPeer()) {
                forger.send(server, Tags.BYE, client.id(), 0x0bad);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!log.text().contains("a bye in the name of node " + String.format("%016x", client.id()))) {
                assertTrue(System.nanoTime() < deadline, "no warning about the forged goodbye: " + log.text());
                Thread.sleep(5);
            }
            assertTrue(toServer.isUsable(), "the forged goodbye changed nothing");
        }
    }

    private static void assertArrives(Endpoint from, Node to, long bytes, int round, Arena arena) throws Exception {
        MemorySegment out = arena.allocate(bytes, 4096);
        MemorySegment in = arena.allocate(bytes, 4096);
        for (long i = 0; i < bytes; i += 8) {
            out.set(JAVA_LONG, i, i ^ round);
        }
        CompletableFuture<Long> got = to.receive(round, in);
        from.send(round, out).get(20, TimeUnit.SECONDS);
        assertEquals(bytes, got.get(20, TimeUnit.SECONDS), "round " + round + ", " + bytes + " bytes");
        assertEquals(-1, in.mismatch(out), "round " + round + ", " + bytes + " bytes intact");
    }
}
