package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** Deterministic scenarios of the owner and peer tables, messages delivered by hand. */
class OdpPageTableTest {
    private final List<String> memory = new ArrayList<>();
    private final List<Object[]> sent = new ArrayList<>();
    private final List<Long> cut = new ArrayList<>();
    private final OwnerPageTable owner = new OwnerPageTable(8, new PageMemory() {
        @Override
        public void release(PageRange range) {
            memory.add("release " + range);
        }

        @Override
        public void establish(PageRange range) {
            memory.add("establish " + range);
        }
    }, new OwnerPageTable.Outbox() {
        @Override
        public void send(long peer, OdpMessage message) {
            sent.add(new Object[] {peer, message});
        }

        @Override
        public void cutOff(long peer) {
            cut.add(peer);
        }
    }, 100);
    private final List<OdpMessage> fromA = new ArrayList<>();
    private final List<OdpMessage> fromB = new ArrayList<>();
    private final PeerPageTable a = new PeerPageTable(1, 8, fromA::add);
    private final PeerPageTable b = new PeerPageTable(2, 8, fromB::add);

    OdpPageTableTest() {
        owner.connect(1);
        owner.connect(2);
    }

    private void toOwner(List<OdpMessage> from) {
        for (OdpMessage m : from) {
            if (m instanceof OdpMessage.Ack ack) {
                owner.onAck(ack);
            } else {
                owner.onFault((OdpMessage.Fault) m);
            }
        }
        from.clear();
    }

    private void toPeers() {
        List<Object[]> now = new ArrayList<>(sent);
        sent.clear();
        for (Object[] s : now) {
            PeerPageTable peer = (Long) s[0] == 1 ? a : b;
            if (s[1] instanceof OdpMessage.Invalidate i) {
                peer.onInvalidate(i);
            } else {
                peer.onEstablished((OdpMessage.Established) s[1]);
            }
        }
    }

    private void map(PeerPageTable peer, List<OdpMessage> from, PageRange range) {
        assertFalse(peer.tryBegin(range));
        toOwner(from);
        toPeers();
        assertTrue(peer.tryBegin(range));
        peer.end(range);
    }

    @Test
    void shouldReleaseAtOnceWhenNoPeerMapsTheRange() {
        assertTrue(owner.reclaim(new PageRange(2, 3), 0) > 0);
        assertEquals(List.of("release [2..5)"), memory);
        assertEquals(OwnerPageState.RECLAIMED, owner.state(3));
        assertTrue(sent.isEmpty());
        assertEquals(0, owner.reclaim(new PageRange(2, 3), 0), "nothing present is left to reclaim");
    }

    @Test
    void shouldFaultEstablishAndMergeAPeersRepeatedAccesses() {
        assertFalse(a.tryBegin(new PageRange(0, 2)));
        assertFalse(a.tryBegin(new PageRange(1, 1)));
        assertEquals(1, fromA.size(), "the second access on a faulting page is merged");
        assertEquals(PeerPageState.FAULTING, a.state(1));
        toOwner(fromA);
        toPeers();
        assertEquals(PeerPageState.MAPPED, a.state(0));
        assertTrue(owner.maps(1, 1));
        assertTrue(a.tryBegin(new PageRange(0, 2)));
    }

    @Test
    void shouldHoldTheAckUntilOperationsInFlightComplete() {
        map(a, fromA, new PageRange(0, 4));
        assertTrue(a.tryBegin(new PageRange(1, 1)));
        long epoch = owner.reclaim(new PageRange(0, 4), 0);
        toPeers();
        assertEquals(PeerPageState.DRAINING, a.state(1));
        assertFalse(a.tryBegin(new PageRange(0, 1)), "no new operation on a draining page");
        assertTrue(fromA.isEmpty(), "no ACK while an operation is in flight");
        assertEquals(OwnerPageState.RECLAIMING, owner.state(1));
        assertTrue(owner.accessAllowed(1, new PageRange(1, 1)));
        a.end(new PageRange(1, 1));
        assertEquals(new OdpMessage.Ack(1, new PageRange(0, 4), epoch), fromA.get(0));
        assertTrue(fromA.get(1) instanceof OdpMessage.Fault f && f.range().equals(new PageRange(0, 1)),
                "the wanted page 0 faults again once drained: " + fromA);
        toOwner(fromA);
        assertEquals(List.of("release [0..4)", "establish [0..1)"), memory);
        assertFalse(owner.accessAllowed(1, new PageRange(1, 1)));
        toPeers();
        assertEquals(PeerPageState.MAPPED, a.state(0));
        assertEquals(PeerPageState.UNMAPPED, a.state(1));
    }

    @Test
    void shouldDeferAFaultOnAReclaimingPageAndAnswerTwoPeersWithOneEstablish() {
        map(a, fromA, new PageRange(0, 2));
        owner.reclaim(new PageRange(0, 2), 0);
        assertFalse(b.tryBegin(new PageRange(0, 2)));
        toOwner(fromB);
        assertEquals(2, owner.waitingFaultPages());
        assertEquals(1, sent.size(), "only the INVALIDATE to A; B waits");
        toPeers();
        assertFalse(a.tryBegin(new PageRange(0, 1))); // A wants page 0 again: ACK, then FAULT
        assertEquals(2, fromA.size());
        toOwner(fromA);
        assertEquals(List.of("release [0..2)", "establish [0..2)"), memory, "one re-establish serves both");
        toPeers();
        assertTrue(a.tryBegin(new PageRange(0, 1)));
        assertTrue(b.tryBegin(new PageRange(0, 2)));
        assertEquals(2, owner.stats().pagesReestablished());
    }

    @Test
    void shouldIgnoreAStaleAckAndStaleEstablished() {
        map(a, fromA, new PageRange(0, 1));
        long e = owner.reclaim(new PageRange(0, 1), 0);
        owner.onAck(new OdpMessage.Ack(1, new PageRange(0, 1), e - 1));
        owner.onAck(new OdpMessage.Ack(2, new PageRange(0, 1), e));
        assertEquals(OwnerPageState.RECLAIMING, owner.state(0), "acks of another epoch or peer do not count");
        toPeers();
        a.onEstablished(new OdpMessage.Established(new PageRange(0, 1), e - 1));
        assertEquals(PeerPageState.UNMAPPED, a.state(0), "an ESTABLISHED older than the INVALIDATE is ignored");
    }

    @Test
    void shouldCutOffAPeerWhoseLeaseExpiresAndGoOn() {
        map(a, fromA, new PageRange(0, 2));
        map(b, fromB, new PageRange(0, 2));
        owner.reclaim(new PageRange(0, 2), 1000);
        toPeers();
        toOwner(fromA); // B never answers
        assertEquals(0, owner.expireLeases(1099));
        assertEquals(1, owner.expireLeases(1100));
        assertEquals(List.of(2L), cut);
        assertEquals(OwnerPageState.RECLAIMED, owner.state(0));
        assertEquals(1, owner.stats().leaseExpiries());
        owner.onFault(new OdpMessage.Fault(2, new PageRange(0, 1), 0));
        assertFalse(owner.maps(2, 0), "a cut-off peer is not served");
        assertThrows(IllegalStateException.class, () -> owner.connect(2), "reconnect under a new id");
        owner.connect(3);
        PeerPageTable b2 = new PeerPageTable(3, 8, fromB::add);
        assertEquals(PeerPageState.UNMAPPED, b2.state(0));
        assertFalse(b2.tryBegin(new PageRange(0, 1)));
        toOwner(fromB);
        assertTrue(owner.maps(3, 0));
    }

    @Test
    void shouldCompleteWhenMappedAfterADrainingPageFaultsAgain() {
        map(a, fromA, new PageRange(0, 1));
        assertTrue(a.tryBegin(new PageRange(0, 1)));
        owner.reclaim(new PageRange(0, 1), 0);
        toPeers();
        CompletableFuture<Void> mapped = a.whenMapped(new PageRange(0, 1));
        a.end(new PageRange(0, 1));
        toOwner(fromA);
        toPeers();
        assertTrue(mapped.isDone());
    }

    @Test
    void closingShouldFailEveryWaitForPagesNowAndLater() {
        map(a, fromA, new PageRange(5, 1));
        CompletableFuture<Void> waiting = a.whenMapped(new PageRange(0, 2));
        IllegalStateException gone = new IllegalStateException("mapping closed");
        a.close(gone);
        assertFalse(a.tryBegin(new PageRange(5, 1)), "no operation begins after the close, on a mapped page either");
        assertTrue(waiting.isCompletedExceptionally(), "the wait before the close");
        CompletableFuture<Void> later = a.whenMapped(new PageRange(3, 1));
        assertTrue(later.isCompletedExceptionally(), "a wait after the close");
        toOwner(fromA);
        toPeers(); // the pages the first wait asked for come after all: nothing waits for them
        assertSame(gone, assertThrows(ExecutionException.class, later::get).getCause());
    }

    @Test
    void shouldRefuseBadUse() {
        assertThrows(IllegalArgumentException.class, () -> new PageRange(0, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> owner.reclaim(new PageRange(7, 2), 0));
        assertThrows(IllegalStateException.class, () -> a.end(new PageRange(0, 1)));
        assertThrows(IllegalStateException.class, () -> owner.connect(1));
    }
}
