package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.testkit.OdpLoopback.attach;
import static org.memreg.testkit.OdpLoopback.awaitReclaims;
import static org.memreg.testkit.OdpLoopback.node;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.SimulatedNic;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.stat.CounterId;
import org.memreg.stat.CountersFile;
import org.memreg.stat.CountersReader;
import org.memreg.stat.ProcessCounters;
import org.memreg.stat.SetKind;
import org.memreg.testkit.SystemProperty;
import org.memreg.transport.Node;
import org.memreg.ucx.UcxTestSupport;

/**
 * An ODP region and a peer's mapping count their {@link OdpStats} in sets of the process's one
 * counters file holding only the {@code odp.*} counters, next to a cache's set, which
 * holds none of them (owner and peer as two loopback nodes in this JVM, as in {@link OdpTriggersTest}).
 */
class OdpCountersFileTest {
    private static final int PAGES = 16;

    @TempDir
    Path dir;
    private SystemProperty counterDirectory;
    private SystemProperty stats;

    @BeforeEach
    void useTheTemporaryDirectory() {
        counterDirectory = SystemProperty.set(CountersFile.DIR_PROP_NAME, dir.toString());
        stats = SystemProperty.set(OdpRegion.STATS_PROP_NAME, null);
    }

    @AfterEach
    void restoreProperties() {
        stats.close();
        counterDirectory.close();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldPublishTheCacheTheRegionAndTheMappingInTheProcesssOneFile() throws Throwable {
        UcxTestSupport.assumeUcx();
        assertNull(ProcessCounters.file(), "a set of an earlier test is still open");
        Path file;
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
                RegistrationCache cache = RegistrationCache.builder(nic).monitor(MemoryMonitor.NONE)
                        .statsName("beside").build();
                Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x74, PAGES * 4096L).build();
                OdpMapping mapping = attach(ownerNode, region, 0x74, peerNode); Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            MemorySegment page = arena.allocate(ps, 4096);
            for (int p = 0; p < PAGES; p++) {
                mapping.put(p * ps, page); // faults every page in
            }
            region.reclaim(new PageRange(0, 4));
            awaitReclaims(region, Duration.ofSeconds(10));
            mapping.get(2 * ps, page); // a fault on a reclaimed page: re-established
            ProcessCounters.publishNow();

            file = ProcessCounters.file().path();
            long pid = ProcessHandle.current().pid();
            assertEquals(dir.resolve(pid + "-memreg.stat"), file);
            CountersReader.Snapshot snapshot = CountersReader.read(file);
            OdpStats owner = region.stats();
            assertEquals(4, owner.pagesReclaimed(), owner.toString());
            assertTrue(owner.invalidationsSent() > 0 && owner.faults() > 0 && owner.pagesReestablished() > 0,
                    owner.toString());
            assertTrue(mapping.stats().faults() > 0 && mapping.stats().invalidationsAcked() > 0,
                    mapping.stats().toString());
            assertSetHolds(snapshot.sets(SetKind.ODP_REGION, "odp-owner-74"), owner);
            assertSetHolds(snapshot.sets(SetKind.ODP_MAPPING, "odp-peer-74"), mapping.stats());
            assertTrue(snapshot.sets(SetKind.ODP_REGION, "odp-owner-74").get(0).counters().stream()
                    .anyMatch(c -> c.value() > 0), "the region counted into its file");

            List<CountersReader.SetSnapshot> caches = snapshot.sets(SetKind.CACHE, "beside");
            assertEquals(1, caches.size(), snapshot.toString());
            assertEquals(ids(CounterId.cacheCounters()), caches.get(0).counters().stream().map(CountersReader.Counter::id).toList());
            assertEquals(Set.of("beside", "odp-owner-74", "odp-peer-74"),
                    snapshot.sets().stream().map(CountersReader.SetSnapshot::name).collect(Collectors.toSet()));
            assertEquals(1, new CountersReader(dir).list().size(), "one file for the process");
        }
        assertFalse(Files.exists(file), "the last set closed: the process's file is deleted");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldPublishNothingWhenTurnedOff() throws Exception {
        UcxTestSupport.assumeUcx();
        System.setProperty(OdpRegion.STATS_PROP_NAME, "false");
        try (Node ownerNode = node("odp-owner", false); Node peerNode = node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(ownerNode, 0x75, PAGES * 4096L).build();
                OdpMapping mapping = attach(ownerNode, region, 0x75, peerNode)) {
            assertNull(ProcessCounters.file(), "nothing published");
            assertEquals(List.of(), new CountersReader(dir).list());
            assertEquals(0, region.stats().faults(), "counted in memory all the same");
        }
    }

    /** A bad setting fails the region before it has allocated its window (a UCX SysV segment here). */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldRefuseABadSettingBeforeTakingAnything() throws Exception {
        UcxTestSupport.assumeUcx();
        System.setProperty(OdpRegion.STATS_PROP_NAME, "maybe");
        try (Node ownerNode = node("odp-owner", false)) {
            long segments = sysvSegments();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> OdpRegion.builder(ownerNode, 0x76, PAGES * 4096L).build());
            assertTrue(e.getMessage().contains(OdpRegion.STATS_PROP_NAME), e.getMessage());
            assertEquals(segments, sysvSegments(), "no window was allocated and left behind");
            assertEquals(List.of(), new CountersReader(dir).list());
        }
    }

    private static long sysvSegments() throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/SYSV")).count();
    }

    /** One set, holding exactly the odp.* counters, each equal to the component of {@code stats} it is labelled with. */
    private static void assertSetHolds(List<CountersReader.SetSnapshot> sets, OdpStats stats) throws Throwable {
        assertEquals(1, sets.size(), sets.toString());
        CountersReader.SetSnapshot snapshot = sets.get(0);
        assertEquals(ids(CounterId.odpCounters()), snapshot.counters().stream().map(CountersReader.Counter::id).toList());
        for (RecordComponent component : OdpStats.class.getRecordComponents()) {
            String label = "odp." + component.getName();
            CountersReader.Counter counter = snapshot.counters().stream().filter(c -> c.label().equals(label))
                    .findFirst().orElseThrow(() -> new AssertionError("no " + label + " in " + snapshot));
            assertEquals((long) component.getAccessor().invoke(stats), counter.value(), label + " of " + snapshot.name());
        }
    }

    private static List<Integer> ids(Set<CounterId> counters) {
        return counters.stream().map(CounterId::id).toList();
    }
}
