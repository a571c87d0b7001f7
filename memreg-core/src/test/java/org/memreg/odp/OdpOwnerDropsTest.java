package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.memreg.odp.OdpTriggersTest.assertPageHolds;
import static org.memreg.odp.OdpTriggersTest.page;
import static org.memreg.testkit.OdpLoopback.attach;
import static org.memreg.testkit.OdpLoopback.node;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.Madvise;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mincore;
import org.memreg.linux.Userfaultfd;
import org.memreg.monitor.EventFdSabotage;
import org.memreg.monitor.EventGate;
import org.memreg.monitor.MemoryEventKind;
import org.memreg.monitor.MemoryEventListener;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.MonitorStats;
import org.memreg.monitor.MonitorUnavailableException;
import org.memreg.monitor.UserfaultfdMonitor;
import org.memreg.testkit.Await;
import org.memreg.testkit.Unprivileged;
import org.memreg.transport.Node;
import org.memreg.ucx.UcxTestSupport;

/**
 * The owner application drops pages of its own region (munlock, then madvise DONTNEED), and
 * the protocol starts after the fact ({@link OdpRegion#watchRemovals}): through userfaultfd's
 * REMOVE; when REMOVEs were lost, through the SUSPECT that says so; once the monitor failed,
 * through the region's own look at residency. Each way the peer is invalidated and acknowledges,
 * the pages end reclaimed, and the peer's next access faults and reads the zero page. Regions are
 * {@link OdpRegion.WindowMemory#ANONYMOUS}: userfaultfd refuses UCX's SysV window.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Unprivileged
class OdpOwnerDropsTest {
    private static final int PAGES = 32;
    /** Pages the application drops at a time. */
    private static final int DROPPED = 4;

    @Test
    void aRemoveEventShouldInvalidateThePeerAndReclaimThePages() throws Exception {
        try (Owner owner = Owner.open(0x73)) {
            UserfaultfdMonitor monitor = userfaultfdMonitor();
            assertTrue(owner.region.watchRemovals(monitor), "userfaultfd watches the anonymous window");
            owner.fill();
            OdpStats before = owner.drop(4);
            owner.assertReclaimedAfterTheFact(before, 4, "the REMOVE");
            assertTrue(monitor.stats().removeEvents() > 0, monitor.stats().toString());
        }
    }

    @Test
    void removeEventsLostShouldBeMadeUpForWhenTheMonitorSaysSuspect() throws Exception {
        try (Owner owner = Owner.open(0x74)) {
            LosingMonitor monitor = new LosingMonitor(userfaultfdMonitor());
            assertTrue(owner.region.watchRemovals(monitor));
            owner.fill();
            monitor.losing = true;
            OdpStats before = owner.drop(4);
            Await.until(() -> monitor.lost.get() > 0, Duration.ofSeconds(10), "the REMOVE, read and lost");
            monitor.losing = false;
            for (int p = 4; p < 4 + DROPPED; p++) {
                assertEquals(OwnerPageState.PRESENT, owner.region.state(p), "no event came: page " + p + " as it was");
            }
            monitor.suspect();
            owner.assertReclaimedAfterTheFact(before, 4, "the SUSPECT");
        }
    }

    @Test
    void pagesDroppedAfterTheMonitorFailedShouldStillBeReclaimed() throws Throwable {
        try (Owner owner = Owner.open(0x75)) {
            UserfaultfdMonitor monitor = userfaultfdMonitor();
            assertTrue(owner.region.watchRemovals(monitor));
            owner.fill();
            EventFdSabotage.replaceWithDevNull(monitor, EventFdSabotage.DELIVERY_READY);
            Await.until(() -> monitor.stats().readerFailures() > 0, Duration.ofSeconds(20), "the monitor failed");
            OdpStats before = owner.drop(4);
            owner.assertReclaimedAfterTheFact(before, 4, "a look at residency"); // perhaps the failure's SUSPECT
            before = owner.drop(12);
            owner.assertReclaimedAfterTheFact(before, 12, "a later look at residency"); // no event comes any more
            assertEquals(0, monitor.stats().removeEvents(), "no REMOVE told the region: " + monitor.stats());
        }
    }

    private static UserfaultfdMonitor userfaultfdMonitor() {
        assumeTrue(Userfaultfd.probe().available(), "no userfaultfd here");
        try {
            return UserfaultfdMonitor.open(false);
        } catch (MonitorUnavailableException e) {
            assumeTrue(false, "userfaultfd monitor not available: " + e.getMessage());
            throw e;
        }
    }

    /** An owner node with an anonymous region of {@link #PAGES} pages, and a peer node that maps it. */
    private record Owner(Node ownerNode, Node peerNode, OdpRegion region, OdpMapping mapping, Arena arena,
            boolean[] dropped) implements AutoCloseable {
        static Owner open(int number) throws Exception {
            UcxTestSupport.assumeUcx();
            Node ownerNode = node("odp-owner", false);
            Node peerNode = node("odp-peer", true);
            OdpRegion region = OdpRegion.builder(ownerNode, number, PAGES * 4096L)
                    .windowMemory(OdpRegion.WindowMemory.ANONYMOUS).build();
            assertFalse(region.isShared());
            return new Owner(ownerNode, peerNode, region, attach(ownerNode, region, number, peerNode), Arena.ofShared(),
                    new boolean[PAGES]);
        }

        /** The peer puts page p filled with 0x40 + p into every page. */
        void fill() throws Exception {
            long ps = region.pageSize();
            for (int p = 0; p < PAGES; p++) {
                mapping.put(p * ps, page(arena, ps, 0x40 + p));
            }
        }

        /**
         * What the application does to {@link #DROPPED} pages from {@code first}: unpins them, then
         * gives them back to the kernel. Returns the region's counters from before.
         */
        OdpStats drop(int first) {
            OdpStats before = region.stats();
            long ps = region.pageSize();
            long at = region.segment().address() + first * ps;
            MemoryLock.munlock(at, DROPPED * ps);
            Madvise.madvise(at, DROPPED * ps, Madvise.MADV_DONTNEED);
            Arrays.fill(dropped, first, first + DROPPED, true);
            return before;
        }

        /**
         * The pages dropped from {@code first} end reclaimed, the peer told, every page as the drops
         * left it; the peer then faults one back in (zeros) and reads the last page (its bytes).
         */
        void assertReclaimedAfterTheFact(OdpStats before, int first, String how) throws Exception {
            Await.until(() -> region.stats().pagesReclaimed() - before.pagesReclaimed() == DROPPED
                    && region.pendingReclaims() == 0, Duration.ofSeconds(10), how + " started a reclaim of pages "
                    + first + ".." + (first + DROPPED - 1) + ": " + region.stats());
            OdpStats after = region.stats();
            assertTrue(after.invalidationsSent() > before.invalidationsSent(), after.toString());
            assertEquals(after.invalidationsSent() - before.invalidationsSent(),
                    after.invalidationsAcked() - before.invalidationsAcked(), after.toString());
            assertEquals(0, after.leaseExpiries());
            long ps = region.pageSize();
            boolean[] resident = Mincore.residency(region.segment().address(), PAGES * ps);
            for (int p = 0; p < PAGES; p++) {
                assertEquals(dropped[p] ? OwnerPageState.RECLAIMED : OwnerPageState.PRESENT, region.state(p), "page " + p);
                assertEquals(!dropped[p], resident[p], "page " + p + " resident");
                assertEquals(dropped[p] ? PeerPageState.UNMAPPED : PeerPageState.MAPPED, mapping.state(p),
                        "peer entry of page " + p);
            }
            long faultsBefore = mapping.stats().faults();
            MemorySegment in = arena.allocate(ps, 4096);
            mapping.get((first + 1) * ps, in);
            dropped[first + 1] = false;
            assertPageHolds(in, 0, "a page the owner dropped, faulted back in");
            assertEquals(faultsBefore + 1, mapping.stats().faults());
            assertEquals(OwnerPageState.PRESENT, region.state(first + 1));
            mapping.get((PAGES - 1) * ps, in);
            assertPageHolds(in, 0x40 + PAGES - 1, "a page the owner kept");
        }

        @Override
        public void close() {
            try (ownerNode; peerNode; region; mapping; arena) {
                // closed in reverse: the arena, the mapping, the region, then the nodes
            }
        }
    }

    /**
     * A userfaultfd monitor that loses the REMOVEs it reads while {@link #losing}, as its ring's
     * overflow would, and then says SUSPECT when told to, as the overflow's drain does.
     */
    private static final class LosingMonitor implements MemoryMonitor {
        private final UserfaultfdMonitor real;
        private final AtomicInteger lost = new AtomicInteger();
        private volatile boolean losing;
        private volatile MemoryEventListener listener;

        LosingMonitor(UserfaultfdMonitor real) {
            this.real = real;
        }

        void suspect() {
            listener.onMemoryEvent(MemoryEventKind.SUSPECT, 0, Long.MAX_VALUE, System.nanoTime());
        }

        @Override
        public void start(MemoryEventListener target) {
            listener = target;
            real.start((kind, start, end, taken) -> {
                if (losing && kind == MemoryEventKind.REMOVE) {
                    lost.incrementAndGet();
                } else {
                    target.onMemoryEvent(kind, start, end, taken);
                }
            });
        }

        @Override
        public String name() {
            return "losing " + real.name();
        }

        @Override
        public EventGate gate() {
            return real.gate();
        }

        @Override
        public boolean watch(long address, long length) {
            return real.watch(address, length);
        }

        @Override
        public void unwatch(long address, long length) {
            real.unwatch(address, length);
        }

        @Override
        public MonitorStats stats() {
            return real.stats();
        }

        @Override
        public void close() {
            real.close();
        }
    }
}
