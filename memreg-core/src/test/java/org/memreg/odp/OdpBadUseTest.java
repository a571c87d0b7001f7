package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.testkit.OdpLoopback.attach;
import static org.memreg.testkit.OdpLoopback.node;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Await;
import org.memreg.testkit.LogCapture;
import org.memreg.testkit.Unprivileged;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.StaleWindowException;
import org.memreg.transport.TransportException;
import org.memreg.ucx.UcxTestSupport;

/**
 * Misuse of regions and mappings (issue 11, case 8): each used to be accepted (a closed mapping's
 * put landed in the owner's memory); each is now refused, and the region keeps serving.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Unprivileged
class OdpBadUseTest {
    private static final int PAGES = 8;

    /** Bad settings fail build(), naming the property and its value; nothing is allocated, the number stays free. */
    @Test
    void shouldRefuseBadSettingsInBuild() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false)) {
            for (String property : List.of(OdpRegionBuilder.LEASE_PROP_NAME, OdpRegionBuilder.WINDOW_MEMORY_PROP_NAME)) {
                System.setProperty(property, "lots");
                try {
                    OdpRegionBuilder builder = OdpRegion.builder(ownerNode, 0x82, PAGES * 4096L); // nothing read yet
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
                    assertTrue(e.getMessage().contains(property + "=lots"), e.getMessage());
                } finally {
                    System.clearProperty(property);
                }
            }
            assertThrows(IllegalArgumentException.class,
                    () -> OdpRegion.builder(ownerNode, 0x82, PAGES * 4096L).lease(Duration.ZERO).build());
            assertThrows(IllegalArgumentException.class, () -> OdpRegion.builder(ownerNode, 0x82, 0).build());
            OdpRegion.builder(ownerNode, 0x82, PAGES * 4096L).lease(Duration.ofMillis(700)).build().close();
        }
    }

    @Test
    void shouldRefuseMisuseOfClosedMappingsAndRegionsAndForeignEndpoints() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                Node otherNode = node("odp-other", true); Arena arena = Arena.ofShared()) {
            OdpRegion region = OdpRegion.builder(ownerNode, 0x81, PAGES * 4096L).build();
            long pageSize = region.pageSize();
            IllegalStateException duplicate = assertThrows(IllegalStateException.class,
                    () -> OdpRegion.builder(ownerNode, 0x81, PAGES * 4096L).build());
            assertTrue(duplicate.getMessage().contains("already has an ODP region 81"), duplicate.getMessage());

            Endpoint foreign = otherNode.connect("127.0.0.1", peerNode.port()); // an endpoint of another node
            assertThrows(IllegalArgumentException.class, () -> region.serve(foreign));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (peerNode.accepted() == null) { // its side of that connection: not the owner's
                assertTrue(System.nanoTime() < deadline, "peer did not see the connection");
                Thread.sleep(1);
            }

            OdpMapping mapping = attach(ownerNode, region, 0x81, peerNode);
            MemorySegment data = arena.allocate(pageSize, 4096);
            data.set(JAVA_LONG, 0, 7);
            mapping.put(0, data);
            assertEquals(7, region.segment().get(JAVA_LONG, 0));
            IllegalArgumentException readOnly = assertThrows(IllegalArgumentException.class,
                    () -> mapping.get(0, data.asReadOnly()));
            assertTrue(readOnly.getMessage().contains("read-only"), readOnly.getMessage());
            mapping.put(0, data.asReadOnly()); // a put only reads its source
            mapping.close();
            data.set(JAVA_LONG, 0, 8);
            assertThrows(IllegalStateException.class, () -> mapping.put(0, data));
            assertThrows(IllegalStateException.class, () -> mapping.get(0, data));
            assertEquals(7, region.segment().get(JAVA_LONG, 0), "the closed mapping's put did not land");

            OdpMapping again = attach(ownerNode, region, 0x81, otherNode); // the region still serves a peer
            again.put(pageSize, data);
            assertEquals(8, region.segment().get(JAVA_LONG, pageSize));
            again.close();

            region.close();
            assertThrows(IllegalStateException.class, () -> region.reclaim(new PageRange(0, 1)));
            assertThrows(IllegalStateException.class, () -> region.trim(pageSize));
            assertThrows(IllegalStateException.class, () -> region.serve(foreign));
            assertThrows(IllegalStateException.class, region::segment);
            region.close();
            OdpRegion.builder(ownerNode, 0x81, PAGES * 4096L).build().close(); // the number is free again
        }
    }

    /**
     * A get waiting for its pages when its mapping closes ends at once, saying the mapping closed.
     * Before, it waited out the mapping's timeout (10 s in a chaos run where a mapping closed under
     * its threads).
     */
    @Test
    void aGetWaitingForItsPagesShouldEndWhenItsMappingCloses() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x83, PAGES * 4096L).build();
                OdpMapping mapping = attach(ownerNode, region, 0x83, peerNode, Duration.ofSeconds(120))) {
            Throwable outcome = getEndedBy(mapping::close, region, mapping, "its mapping closed");
            IllegalStateException closed = assertInstanceOf(IllegalStateException.class, outcome);
            assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
        }
    }

    /**
     * A get waiting for its pages when the peer's node closes ends at once with
     * TransportException, and the mapping's thread says so once; before, the get waited out its
     * timeout and the thread logged a warning every tick until the mapping was closed.
     */
    @Test
    void aGetWaitingForItsPagesShouldEndWhenItsNodeCloses() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x84, PAGES * 4096L).build();
                LogCapture warnings = LogCapture.of(OdpMapping.class);
                OdpMapping mapping = attach(ownerNode, region, 0x84, peerNode, Duration.ofSeconds(120))) {
            Throwable outcome = getEndedBy(peerNode::close, region, mapping, "its node closed");
            TransportException gone = assertInstanceOf(TransportException.class, outcome);
            assertTrue(gone.getMessage().contains("endpoint to the owner"), gone.getMessage());
            TransportException later = assertThrows(TransportException.class,
                    () -> mapping.get(2 * region.pageSize(), Arena.ofAuto().allocate(region.pageSize(), 8)));
            assertTrue(later.getMessage().contains("endpoint to the owner"), later.getMessage());
            Thread.sleep(20 * OdpRegion.TICK_MILLIS);
            assertEquals(1, warnings.count(), "what the mapping's thread logged: " + warnings);
        }
    }

    /**
     * A get on a mapping whose owner closed the region fails about a second later, saying the key
     * was revoked and no newer one came; before, its fault waited out the mapping's timeout (10 s
     * in a chaos run that closed the region under its peers).
     */
    @Test
    void aGetAfterItsRegionClosedShouldNotWaitOutItsTimeout() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                LogCapture warnings = LogCapture.of(OdpMapping.class)) {
            OdpRegion region = OdpRegion.builder(ownerNode, 0x86, PAGES * 4096L).build();
            try (OdpMapping mapping = attach(ownerNode, region, 0x86, peerNode, Duration.ofSeconds(120))) {
                region.close();
                Throwable outcome = getEndedBy(() -> { }, region, mapping, "its region closed");
                StaleWindowException stale = assertInstanceOf(StaleWindowException.class, outcome);
                assertTrue(stale.getMessage().contains("sent no newer key"), stale.getMessage());
                assertEquals(1, warnings.count(), "what the mapping's thread logged: " + warnings);
            }
        }
    }

    /**
     * Starts a get of page 1 while the owner's table is frozen (no ESTABLISHED can leave the owner),
     * runs {@code closeUnder} once its FAULT is out, and returns what the get threw, once it ended:
     * within 30 s of that, far less than the mapping's timeout.
     */
    private static Throwable getEndedBy(Runnable closeUnder, OdpRegion region, OdpMapping mapping, String what)
            throws InterruptedException {
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread getter = Thread.ofPlatform().unstarted(() -> {
            try (Arena arena = Arena.ofConfined()) {
                mapping.get(region.pageSize(), arena.allocate(region.pageSize(), 8));
                outcome.set(new AssertionError("the get returned while the owner's table was frozen"));
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        AtomicReference<Boolean> ended = new AtomicReference<>();
        region.withStatesFrozen(() -> {
            try {
                getter.start();
                Await.until(() -> mapping.state(1) == PeerPageState.FAULTING, Duration.ofSeconds(20),
                        "the get's FAULT out");
                closeUnder.run();
                getter.join(TimeUnit.SECONDS.toMillis(30));
                ended.set(!getter.isAlive());
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        assertTrue(ended.get(), "the get still waited for its pages 30 s after " + what);
        getter.join();
        return outcome.get();
    }

    /** The region's thread says once that its node closed, rather than every tick until the region closes. */
    @Test
    void aRegionWhoseNodeClosedShouldSaySoOnce() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x85, PAGES * 4096L).build();
                LogCapture warnings = LogCapture.of(OdpRegion.class)) {
            try (OdpMapping mapping = attach(ownerNode, region, 0x85, peerNode)) {
                ownerNode.close();
                Await.until(() -> warnings.count() > 0, Duration.ofSeconds(20), "the region's warning");
                Thread.sleep(20 * OdpRegion.TICK_MILLIS);
                assertEquals(1, warnings.count(), "what the region's thread logged: " + warnings);
                assertTrue(warnings.toString().contains("its node closed"), warnings.toString());
            }
        }
    }
}
