package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.memreg.testkit.OdpLoopback.attach;
import static org.memreg.testkit.OdpLoopback.node;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.MemoryPressure;
import org.memreg.linux.Mincore;
import org.memreg.monitor.PressureWatcher;
import org.memreg.testkit.Await;
import org.memreg.testkit.Unprivileged;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;
import org.memreg.transport.StaleWindowException;
import org.memreg.ucx.UcxTestSupport;

/**
 * The reclaim triggers other than {@code reclaim(range)} and the owner's own drops
 * ({@link OdpOwnerDropsTest}), and the cut-off's key revocation, with the owner and its peers as
 * separate transport nodes in this one JVM (loopback; the window is UCX's shared segment, reached
 * by the peers through shared memory).
 */
@Unprivileged
class OdpTriggersTest {
    private static final int PAGES = 32;

    private static void await(BooleanSupplier condition, long millis, String what) throws InterruptedException {
        Await.until(condition, Duration.ofMillis(millis), what);
    }

    static MemorySegment page(Arena arena, long pageSize, int value) {
        MemorySegment s = arena.allocate(pageSize, 4096);
        s.fill((byte) value);
        return s;
    }

    static void assertPageHolds(MemorySegment page, int value, String what) {
        for (long i = 0; i < page.byteSize(); i++) {
            if (page.get(JAVA_BYTE, i) != (byte) value) {
                throw new AssertionError(what + ": byte " + i + " is " + page.get(JAVA_BYTE, i) + ", expected "
                        + (byte) value);
            }
        }
    }

    /**
     * A real PSI trigger is installed, but memory pressure cannot be produced on demand on this VM:
     * the test calls the watcher's entry point {@link PressureWatcher#onPressure()}, which is what
     * the watcher's thread calls when the trigger fires.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void pressureEntryPointCalledDirectlyShouldInvalidateReleaseAndLetThePeerFaultBack() throws Exception {
        UcxTestSupport.assumeUcx();
        assumeTrue(MemoryPressure.available(), "no PSI on this kernel");
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x71, PAGES * 4096L).build();
                OdpMapping mapping = attach(ownerNode, region, 0x71, peerNode); Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            for (int p = 0; p < PAGES; p++) {
                mapping.put(p * ps, page(arena, ps, p + 1));
            }
            for (int p = 0; p < PAGES; p++) {
                assertEquals(PeerPageState.MAPPED, mapping.state(p));
            }
            OdpStats before = region.stats();
            try (PressureWatcher watcher = PressureWatcher.builder(region::trim).trimBytes(8 * ps).start()) {
                assertEquals(8 * ps, watcher.onPressure(), "reclaim of 8 pages started");
                await(() -> region.pendingReclaims() == 0, 10_000, "reclaims acknowledged");
                assertEquals(1, watcher.triggers());
                assertEquals(8 * ps, watcher.bytesReleased());
            }
            OdpStats after = region.stats();
            assertEquals(8, after.invalidationsSent() - before.invalidationsSent(), "one INVALIDATE per page: " + after);
            assertEquals(8, after.invalidationsAcked() - before.invalidationsAcked(), after.toString());
            assertEquals(8, after.pagesReclaimed() - before.pagesReclaimed(), after.toString());
            assertEquals(0, after.leaseExpiries());
            boolean[] resident = Mincore.residency(region.segment().address(), PAGES * ps);
            for (int p = 0; p < PAGES; p++) {
                assertEquals(p < 8 ? OwnerPageState.RECLAIMED : OwnerPageState.PRESENT, region.state(p), "page " + p);
                assertEquals(p >= 8, resident[p], "page " + p + " resident");
                assertEquals(p < 8 ? PeerPageState.UNMAPPED : PeerPageState.MAPPED, mapping.state(p),
                        "peer entry of page " + p);
            }
            assertEquals(0, region.residentReclaimedPages());
            long faultsBefore = mapping.stats().faults();
            MemorySegment in = arena.allocate(ps, 4096);
            mapping.get(3 * ps, in);
            assertPageHolds(in, 0, "a reclaimed page faulted back in");
            assertEquals(faultsBefore + 1, mapping.stats().faults());
            assertEquals(OwnerPageState.PRESENT, region.state(3));
            assertTrue(region.stats().pagesReestablished() > after.pagesReestablished(), region.stats().toString());
            mapping.get(9 * ps, in);
            assertPageHolds(in, 10, "a page the trim did not take");
        }
    }

    /**
     * B stops acknowledging (its mapping drops INVALIDATEs; the process and its transport go on),
     * is cut off after its lease, and the owner re-keys: B's next put, on a page its own table
     * still maps, fails at B's transport with the stale-generation error and writes nothing, while
     * C goes on with the new key.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void latePeerShouldBeCutOffAfterItsLeaseWithItsKeyRevokedWhileTheOtherPeerGoesOn() throws Exception {
        UcxTestSupport.assumeUcx();
        Duration lease = Duration.ofMillis(300);
        try (Node ownerNode = node("odp-owner", false); Node nodeB = node("odp-b", true);
                Node nodeC = node("odp-c", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x72, PAGES * 4096L).lease(lease).build();
                OdpMapping b = attach(ownerNode, region, 0x72, nodeB);
                OdpMapping c = attach(ownerNode, region, 0x72, nodeC); Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            MemorySegment in = arena.allocate(ps, 4096);
            for (int p = 0; p < PAGES; p++) {
                c.put(p * ps, page(arena, ps, 0xC1));
                b.get(p * ps, in); // B maps every page too
            }
            assertEquals(1, region.keyGeneration());
            b.ignoreInvalidations(true);
            long started = System.nanoTime();
            assertTrue(region.reclaim(new PageRange(0, 4)) > 0);
            await(() -> region.pendingReclaims() == 0, 10_000, "reclaim finished after B's lease");
            long took = System.nanoTime() - started;
            assertTrue(took >= lease.toNanos(), "finished only after the lease: " + took / 1e6 + " ms");
            assertEquals(1, region.stats().leaseExpiries());
            assertTrue(region.isCutOff(nodeB.id()));
            assertFalse(region.isCutOff(nodeC.id()));
            await(() -> region.keyGeneration() == 2, 10_000, "owner re-keyed");
            await(() -> c.keyGeneration() == 2, 10_000, "C got the new key");
            assertEquals(1, b.keyGeneration(), "B got no new key");

            assertEquals(PeerPageState.MAPPED, b.state(10), "B's own table still lets it try page 10");
            StaleWindowException stale = assertThrows(StaleWindowException.class,
                    () -> b.put(10 * ps, page(arena, ps, 0xBB)));
            assertTrue(stale.getMessage().contains("generation 1 is stale"), stale.getMessage());
            assertPageHolds(region.segment().asSlice(10 * ps, ps), 0xC1, "B's refused put wrote nothing");
            await(() -> { // B's mapping finds that no key will come: its operations fail without a wait for one
                StaleWindowException again = assertThrows(StaleWindowException.class, () -> b.get(10 * ps, in));
                return again.getMessage().contains("sent no newer key");
            }, 10_000, "B's mapping found its key revoked for good");

            c.put(10 * ps, page(arena, ps, 0xC2));
            c.put(0, page(arena, ps, 0xC3)); // page 0 was reclaimed: C faults it back in
            assertPageHolds(region.segment().asSlice(10 * ps, ps), 0xC2, "C's put with the new key");
            assertPageHolds(region.segment().asSlice(0, ps), 0xC3, "C's put after its fault");
            assertNotEquals(0, c.stats().faults());
            assertEquals(0, region.residentReclaimedPages());
        }
    }

    /**
     * The re-key after a cut-off waits for every connected node to acknowledge the revocation (at
     * most 5 s). Node S is connected to the owner and never progresses, so the revocation waits out
     * that time; meanwhile C's fault is served and a new peer D is served, with the next key
     * (before, the region's thread did the re-key itself and C waited until S was given up on, and
     * D's serve waited for the re-key's lock).
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aReKeyWaitingForASilentNodeShouldNotHoldUpTheOtherPeersFaults() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", true); Node nodeB = node("odp-b", true);
                Node nodeC = node("odp-c", true); Node nodeD = node("odp-d", true); // D attaches during the re-key
                Node silent = Node.builder().name("odp-silent").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER)
                        .progressThread(false).build();
                OdpRegion region = OdpRegion.builder(ownerNode, 0x78, PAGES * 4096L).lease(Duration.ofMillis(300))
                        .build();
                OdpMapping b = attach(ownerNode, region, 0x78, nodeB);
                OdpMapping c = attach(ownerNode, region, 0x78, nodeC); Arena arena = Arena.ofShared()) {
            silent.connect("127.0.0.1", ownerNode.port()); // from now on nobody drives it
            long ps = region.pageSize();
            b.put(0, page(arena, ps, 0xB1));
            c.put(ps, page(arena, ps, 0xC1));
            b.ignoreInvalidations(true);
            assertTrue(region.reclaim(new PageRange(0, 2)) > 0);
            await(() -> region.isCutOff(nodeB.id()), 10_000, "B cut off at its lease");
            await(() -> c.keyGeneration() == 2, 10_000, "C got the next key (sent before the revocation)");
            assertEquals(1, region.keyGeneration(), "the revocation waits for the silent node");

            c.put(ps, page(arena, ps, 0xC2)); // page 1 was reclaimed: C faults it back in
            assertEquals(1, region.keyGeneration(), "C's fault was served while the re-key still waited");
            assertPageHolds(region.segment().asSlice(ps, ps), 0xC2, "C's put during the re-key");
            try (OdpMapping d = attach(ownerNode, region, 0x78, nodeD)) {
                assertEquals(1, region.keyGeneration(), "D was served while the re-key still waited");
                assertEquals(2, d.keyGeneration(), "D got the next key, which the revocation leaves good");
                d.put(3 * ps, page(arena, ps, 0xD1));
                assertPageHolds(region.segment().asSlice(3 * ps, ps), 0xD1, "D's put during the re-key");
            }

            await(() -> region.keyGeneration() == 2, 20_000, "the re-key ended, the silent node skipped");
            c.put(2 * ps, page(arena, ps, 0xC3));
            assertPageHolds(region.segment().asSlice(2 * ps, ps), 0xC3, "C's put after the re-key");
        }
    }

    /**
     * A peer whose mapping closes says so (DETACH) once its operations ended: the owner cuts it off
     * at once, so a reclaim of pages it mapped goes on without its ACK, well before its lease (60 s
     * here), and the other peer goes on with the same key. A put of the closing mapping held in
     * flight keeps the DETACH back until it ends (before, the owner waited out the lease).
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aClosedMappingShouldBeCutOffOnceItsOperationsEndedNotAtItsLease() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node nodeB = node("odp-b", true);
                Node nodeC = node("odp-c", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x76, PAGES * 4096L).lease(Duration.ofSeconds(60))
                        .build();
                OdpMapping c = attach(ownerNode, region, 0x76, nodeC); Arena arena = Arena.ofShared()) {
            OdpMapping b = attach(ownerNode, region, 0x76, nodeB);
            long ps = region.pageSize();
            b.put(0, page(arena, ps, 0xB1));
            c.put(ps, page(arena, ps, 0xC1));
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread putter = Thread.ofPlatform().start(() -> b.put(2 * ps, page(arena, ps, 0xB2), () -> {
                held.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            assertTrue(held.await(20, TimeUnit.SECONDS), "B's put in flight");
            Thread closer = Thread.ofPlatform().start(b::close);
            Thread.sleep(500); // time for a DETACH to reach the owner, were it sent now
            assertFalse(region.isCutOff(nodeB.id()), "B said it was gone while its put was in flight");
            release.countDown();
            putter.join();
            closer.join();
            await(() -> region.isCutOff(nodeB.id()), 10_000, "B cut off once its mapping closed");
            assertTrue(region.reclaim(new PageRange(0, 3)) > 0);
            await(() -> region.pendingReclaims() == 0, 10_000, "the reclaim of B's pages, without B's ACK");
            assertEquals(0, region.stats().leaseExpiries());
            assertEquals(1, region.keyGeneration(), "a peer that left, with nothing in flight, costs no re-key");
            c.put(0, page(arena, ps, 0xC2)); // page 0 was reclaimed: C faults it back in
            assertPageHolds(region.segment().asSlice(0, ps), 0xC2, "C's put after B left");
        }
    }

    /**
     * A peer whose endpoint failed is cut off at once, not at its lease (60 s here): its node closes
     * without its mapping saying DETACH (as when its process is killed: the endpoint fails within
     * milliseconds then), a reclaim of its page goes on without its ACK, and the other peer goes on
     * with the next key. Before, the reclaim waited out the lease.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aPeerWhoseEndpointFailedShouldBeCutOffAtOnceNotAtItsLease() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node nodeC = node("odp-c", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x7a, PAGES * 4096L).lease(Duration.ofSeconds(60))
                        .build();
                OdpMapping c = attach(ownerNode, region, 0x7a, nodeC); Arena arena = Arena.ofShared()) {
            Node nodeB = node("odp-b", true);
            OdpMapping b = attach(ownerNode, region, 0x7a, nodeB);
            long ps = region.pageSize();
            b.put(0, page(arena, ps, 0xB1));
            c.put(ps, page(arena, ps, 0xC1));
            nodeB.close(); // b stays open: no DETACH
            await(() -> region.isCutOff(nodeB.id()), 10_000, "B cut off once its endpoint failed");
            assertEquals(1, region.stats().peersGone());
            assertTrue(region.reclaim(new PageRange(0, 1)) > 0);
            await(() -> region.pendingReclaims() == 0, 10_000, "the reclaim of B's page, without B's ACK");
            assertEquals(0, region.stats().leaseExpiries());
            await(() -> c.keyGeneration() == 2, 10_000, "C got the next key");
            c.put(0, page(arena, ps, 0xC2)); // page 0 was reclaimed: C faults it back in
            assertPageHolds(region.segment().asSlice(0, ps), 0xC2, "C's put after B failed");
            b.close();
        }
    }

    /**
     * A mapping that leaves sends nothing after its DETACH. Peers map every page and close while
     * the owner reclaims them all, so INVALIDATEs cross DETACHes: an ACK of one after the DETACH
     * reached an owner that had forgotten the peer, which dropped it as forged and warned (before:
     * in a few of the rounds).
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aMappingThatLeftShouldSendNothingAfterItsDetach() throws Exception {
        UcxTestSupport.assumeUcx();
        int rounds = Integer.getInteger("memreg.test.detachRounds", 30);
        try (Node ownerNode = node("odp-owner", false);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x79, PAGES * 4096L).lease(Duration.ofSeconds(60))
                        .build();
                Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            MemorySegment in = arena.allocate(ps, 4096);
            for (int n = 0; n < rounds; n++) {
                try (Node peerNode = node("odp-leaving-" + n, true)) {
                    OdpMapping m = attach(ownerNode, region, 0x79, peerNode);
                    for (int p = 0; p < PAGES; p++) {
                        m.get(p * ps, in);
                    }
                    CountDownLatch go = new CountDownLatch(1);
                    Thread reclaimer = Thread.ofPlatform().start(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            return;
                        }
                        for (int p = 0; p < PAGES; p++) {
                            region.reclaim(new PageRange(p, 1));
                        }
                    });
                    go.countDown();
                    m.close();
                    reclaimer.join();
                    await(() -> region.isCutOff(peerNode.id()), 10_000, "peer " + n + " detached");
                    await(() -> region.pendingReclaims() == 0, 10_000, "reclaims of round " + n);
                }
            }
            Thread.sleep(500); // for a late ACK to reach the owner's thread
            assertEquals(0, region.forgedDropped(), "messages of departed peers dropped as forged");
            assertEquals(0, region.stats().leaseExpiries());
        }
    }

    /**
     * A peer whose ACK came in time is not cut off because the region's thread read it late. The
     * thread is held (a FAULT of another peer waits on the frozen table, as it would behind a
     * burst; before 2026-12-07 also behind a re-key waiting for a silent node) while C acknowledges a reclaim, past C's lease (400 ms);
     * then it must read C's ACK before it judges the leases. Before, it judged them after the one
     * message it had in hand, and cut C off.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void anAckThatCameInTimeShouldCountThoughTheRegionReadItLate() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node nodeC = node("odp-c", true);
                Node nodeD = node("odp-d", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x77, PAGES * 4096L).lease(Duration.ofMillis(400))
                        .build();
                OdpMapping c = attach(ownerNode, region, 0x77, nodeC);
                OdpMapping d = attach(ownerNode, region, 0x77, nodeD);
                Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            c.put(0, page(arena, ps, 0xC1));
            Thread faulting = Thread.ofPlatform().unstarted(() -> d.put(5 * ps, page(arena, ps, 0xD1)));
            region.withStatesFrozen(() -> {
                try {
                    faulting.start(); // with the table frozen, or the owner may answer it first
                    await(() -> d.state(5) == PeerPageState.FAULTING, 10_000, "D's FAULT out");
                    Thread.sleep(200); // the region's thread takes it and waits for the table
                    assertTrue(region.reclaim(new PageRange(0, 1)) > 0);
                    await(() -> c.state(0) == PeerPageState.UNMAPPED, 10_000, "C drained page 0 and acknowledged");
                    Thread.sleep(1_000); // past C's lease: its ACK waits behind D's FAULT
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            faulting.join();
            await(() -> region.pendingReclaims() == 0, 10_000, "the reclaim of page 0");
            assertFalse(region.isCutOff(nodeC.id()), "C was cut off though its ACK came in time");
            assertEquals(0, region.stats().leaseExpiries());
            c.put(0, page(arena, ps, 0xC2));
            assertPageHolds(region.segment().asSlice(0, ps), 0xC2, "C's put after the reclaim");
        }
    }
}
