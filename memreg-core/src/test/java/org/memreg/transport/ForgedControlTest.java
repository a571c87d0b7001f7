package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.memreg.device.Access;
import org.memreg.testkit.LogCapture;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A hostile peer that speaks UCX directly and knows two nodes' ids sends control messages in the
 * name of one to the other: a bye (it closed the connection between them) and a revocation of a
 * window generation far ahead (the node then refused the owner's window for good). Both are now
 * dropped, for want of the token the named node was given; the real ones still work, also over a
 * second connection the other way.
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForgedControlTest {
    @Test
    void forgedByeAndRevocationShouldChangeNothingAndTheRealOnesStillWork() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node owner = GoodPeer.loopback("owner").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node victim = GoodPeer.loopback("victim").build();
             RawUcxPeer hostile = new RawUcxPeer();
             Arena arena = Arena.ofShared()) {
            Endpoint toOwner = victim.connect("127.0.0.1", owner.port());
            Endpoint toVictim = GoodPeer.accepted(owner);
            Window window = owner.allocateWindow(64 << 10, Access.ALL);
            RemoteWindow remote = toOwner.attach(window.key());

            for (long token : new long[] {0, 1, -1}) {
                hostile.send(owner, Tags.BYE, toVictim.peerId(), token);
                hostile.send(victim, Tags.REVOKE, toOwner.peerId(), token, window.key().windowId(),
                        Long.MAX_VALUE, 1);
            }
            // A message after them on the same path: once it arrived, the node has handled them (in order)
            for (Node node : new Node[] {owner, victim}) {
                MemorySegment in = arena.allocate(8, 8);
                var marker = node.receive(0x99, in);
                hostile.send(node, 0x99, 1);
                assertEquals(8, marker.get(10, TimeUnit.SECONDS));
            }
            MemorySegment data = arena.allocate(8, 8);
            data.set(JAVA_LONG, 0, 42);
            remote.put(0, data).get(10, TimeUnit.SECONDS); // the victim's key still works: no forged revocation
            remote.flush().get(10, TimeUnit.SECONDS);
            assertEquals(42, window.segment().get(JAVA_LONG, 0));
            assertTrue(toOwner.attach(window.key()) == remote, "the key was not revoked");
            assertTrue(toVictim.isUsable(), "the owner's connection to the victim is open: no forged bye");
            assertEquals(8, echo(toVictim, victim, arena), "and carries messages");

            // The real ones: a revocation, a bye, and both again over a new connection the other way
            // (tokens belong to the pair of nodes, fixed at first contact, not to one connection)
            assertStale(remote, data, window);
            RemoteWindow again = toOwner.attach(window.key());
            again.put(0, data).get(10, TimeUnit.SECONDS); // the new generation attaches
            toOwner.close();
            awaitUnusable(toVictim, "the victim's bye closed the owner's endpoint");
            Endpoint back = owner.connect(victim.workerAddress());
            Endpoint victimSide = GoodPeer.accepted(victim);
            assertEquals(8, echo(back, victim, arena));
            RemoteWindow overBack = victimSide.attach(window.key());
            overBack.put(0, data).get(10, TimeUnit.SECONDS);
            assertStale(overBack, data, window);
            back.close();
            awaitUnusable(victimSide, "the owner's bye closed the victim's endpoint");
        }
    }

    /**
     * A receiver's word on a rendezvous message of another length than memreg sends is dropped,
     * and the warning names it. Before, the handler read past its end and the warning was an
     * {@code IndexOutOfBoundsException} (TagFuzzer met both); the node served on either way.
     */
    @ParameterizedTest
    @CsvSource({"REFUSE, 3, 'a refusal of 3 bytes, not 16'", "REFUSE, 24, 'a refusal of 24 bytes, not 16'",
        "DELIVERED, 0, 'a delivery of 0 bytes, not 8'"})
    void aReceiversWordOfAnotherLengthShouldBeDroppedWithAWarningNamingIt(String type, int bytes, String warning)
            throws Exception {
        UcxTestSupport.assumeUcx();
        long tag = type.equals("REFUSE") ? Tags.REFUSE : Tags.DELIVERED;
        try (LogCapture log = LogCapture.of(Node.class);
             Node node = GoodPeer.loopback("node").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer hostile = new RawUcxPeer();
             Arena arena = Arena.ofShared()) {
            hostile.send(node, tag, arena.allocate(Math.max(1, bytes), 8).asSlice(0, bytes));
            MemorySegment in = arena.allocate(8, 8);
            var marker = node.receive(0x99, in);
            hostile.send(node, 0x99, 1); // after it on the same path: once it arrived, the node has handled the word
            assertEquals(8, marker.get(10, TimeUnit.SECONDS));
            assertTrue(log.text().contains("could not read: 1 since the last report; the latest: " + warning),
                    log.text());
            GoodPeer.assertServed(node);
        }
    }

    /** Invalidates {@code window}: the peer acknowledged the revocation, and its key is stale. */
    private static void assertStale(RemoteWindow remote, MemorySegment data, Window window) throws Exception {
        long generation = window.key().generation();
        window.invalidate();
        Throwable stale = assertThrows(ExecutionException.class,
                () -> remote.put(0, data).get(10, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(StaleWindowException.class, stale, stale.toString());
        assertTrue(window.key().generation() > generation);
    }

    private static void awaitUnusable(Endpoint endpoint, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (endpoint.isUsable() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertFalse(endpoint.isUsable(), what);
    }

    /** {@code from} sends 8 bytes to {@code to}'s node, which receives them: the connection carries messages. */
    private static long echo(Endpoint from, Node to, Arena arena) throws Exception {
        MemorySegment in = arena.allocate(8, 8);
        var received = to.receive(0x77, in);
        from.send(0x77, arena.allocate(8, 8)).get(10, TimeUnit.SECONDS);
        return received.get(10, TimeUnit.SECONDS);
    }
}
