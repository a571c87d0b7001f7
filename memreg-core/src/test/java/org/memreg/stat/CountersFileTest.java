package org.memreg.stat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.cache.CacheStats;
import org.memreg.linux.ProcStatus;
import org.memreg.monitor.MonitorStats;
import org.memreg.odp.OdpStats;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class CountersFileTest {
    @TempDir
    Path dir;

    /** A file of three sets, one of each kind, each counter written through its slot and read back. */
    @Test
    void shouldReadBackEverySetOfTheFile() throws IOException {
        long pid = ProcessHandle.current().pid();
        try (CountersFile file = CountersFile.create(dir, "round trip", 8, 0)) {
            assertEquals(dir.resolve(pid + "-round_trip.stat"), file.path());
            CounterSet cache = file.allocate(SetKind.CACHE, "my cache");
            CounterSet region = file.allocate(SetKind.ODP_REGION, "odp-owner-1");
            CounterSet mapping = file.allocate(SetKind.ODP_MAPPING, "odp-peer-1");
            for (CounterSet set : List.of(cache, region, mapping)) {
                for (CounterId id : set.kind().counters()) {
                    set.counter(id).setOrdered(id.id() * 1_000_003L + set.kind().code());
                }
            }
            cache.counter(CounterId.HITS).setOrdered(Long.MAX_VALUE);
            cache.counter(CounterId.MISSES).add(-1 - CounterId.MISSES.id() * 1_000_003L - 1);
            assertThrows(IllegalArgumentException.class, () -> region.counter(CounterId.HITS), "not an ODP counter");

            CountersReader.Snapshot snapshot = CountersReader.read(file.path());
            assertEquals(pid, snapshot.pid());
            assertEquals("round_trip", snapshot.name());
            assertTrue(snapshot.alive());
            assertTrue(Math.abs(System.currentTimeMillis() - snapshot.heartbeatMillis()) < 60_000);
            assertEquals(List.of("cache my_cache", "odp-region odp-owner-1", "odp-mapping odp-peer-1"),
                    snapshot.sets().stream().map(s -> s.kindLabel() + " " + s.name()).toList());
            for (CountersReader.SetSnapshot set : snapshot.sets()) {
                assertEquals(set.kind().counters().stream().map(CounterId::id).toList(),
                        set.counters().stream().map(CountersReader.Counter::id).toList());
                for (CountersReader.Counter counter : set.counters()) {
                    CounterId id = CounterId.byId(counter.id());
                    assertEquals(id.label(), counter.label());
                    long expected = switch (id) {
                        case HITS -> Long.MAX_VALUE;
                        case MISSES -> -1;
                        default -> id.id() * 1_000_003L + set.kind().code();
                    };
                    assertEquals(expected, counter.value(), set.name() + " " + id.label());
                }
            }
            assertEquals(List.of(new CountersReader.Listing(file.path(), pid, "round_trip", true)),
                    new CountersReader(dir).list());
        }
        assertTrue(new CountersReader(dir).list().isEmpty(), "close deletes the file");
    }

    /** A freed record leaves the file's listing and is given to the next set, zeroed, with a new generation. */
    /**
     * A set's values sit side by side, eight to a cache line, from a line boundary: the miss path
     * writes seven of a cache's counters per miss, and a reader looping over the set must cost it
     * a few line transfers, not one per counter (a layout with a line per value slowed misses).
     */
    @Test
    void shouldPackASetsValuesIntoWholeCacheLines() throws IOException {
        try (CountersFile file = CountersFile.create(dir, "packed", 2, 0)) {
            file.allocate(SetKind.ODP_REGION, "first");
            CounterSet set = file.allocate(SetKind.CACHE, "second");
            List<CounterId> ids = List.copyOf(SetKind.CACHE.counters());
            for (int j = 0; j < ids.size(); j++) {
                set.counter(ids.get(j)).setOrdered(1_000 + j);
            }
            ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file.path())).order(ByteOrder.nativeOrder());
            long values = CountersFile.HEADER_LENGTH + CountersFile.SET_LENGTH + CountersFile.VALUES_OFFSET;
            assertEquals(0, values % 64, "the values start a cache line");
            for (int j = 0; j < ids.size(); j++) {
                assertEquals(1_000 + j, bytes.getLong((int) (values + j * Long.BYTES)), "value of " + ids.get(j));
            }
        }
    }

    @Test
    void shouldFreeSetsAndReuseTheirRecords() throws IOException {
        try (CountersFile file = CountersFile.create(dir, "reuse", 2, 0)) {
            CounterSet first = file.allocate(SetKind.CACHE, "first");
            CounterSet second = file.allocate(SetKind.ODP_REGION, "second");
            assertNull(file.allocate(SetKind.ODP_MAPPING, "third"), "two records, both taken");
            first.counter(CounterId.HITS).setOrdered(99);
            first.close();
            first.close();
            assertEquals(1, file.allocated());
            assertEquals(List.of("second"), names(file));
            CounterSet third = file.allocate(SetKind.ODP_MAPPING, "third");
            CountersReader.SetSnapshot reused = CountersReader.read(file.path()).sets().get(0);
            assertEquals("third", reused.name());
            assertEquals(0, reused.index());
            assertEquals(2, reused.generation(), "the record's second allocation");
            assertTrue(reused.counters().stream().allMatch(c -> c.value() == 0), reused.toString());
            assertEquals(List.of("third", "second"), names(file));
            second.close();
            third.close();
            assertEquals(List.of(), names(file));
        }
    }

    /** Within the reuse delay a freed record is not handed out again: a late write must not land in a new set. */
    @Test
    void shouldNotReuseARecordWithinTheDelay() throws IOException {
        try (CountersFile file = CountersFile.create(dir, "delayed", 1, 60_000)) {
            file.allocate(SetKind.CACHE, "gone").close();
            assertNull(file.allocate(SetKind.CACHE, "new"), "the only record was freed a moment ago");
        }
    }

    /** A closed file is deleted; counters of sets still allocated can still be written (no fault), nothing new is allocated. */
    @Test
    void shouldDeleteOnCloseAndKeepOldCountersHarmless() throws IOException {
        CountersFile file = CountersFile.create(dir, "closed", 4, 0);
        CounterSet set = file.allocate(SetKind.CACHE, "late");
        file.close();
        file.close();
        assertFalse(Files.exists(file.path()));
        set.counter(CounterId.HITS).increment();
        assertEquals(1, set.counter(CounterId.HITS).get());
        assertNull(file.allocate(SetKind.CACHE, "after"));
    }

    private static List<String> names(CountersFile file) throws IOException {
        return CountersReader.read(file.path()).sets().stream().map(CountersReader.SetSnapshot::name).toList();
    }

    @Test
    void shouldSanitizeNames() {
        assertEquals("my_cache_1.x", CountersFile.sanitize("my cache/1.x"));
        assertEquals("_hidden", CountersFile.sanitize(".hidden"));
        assertEquals("cache", CountersFile.sanitize(""));
        assertEquals("_", CountersFile.sanitize("é"));
        assertEquals(48, CountersFile.sanitize("x".repeat(500)).length());
    }

    @Test
    void shouldRejectGarbageAndTruncatedFilesWithAClearReason() throws IOException {
        Path garbage = Files.write(dir.resolve("1-garbage.stat"), "this is not a counters file at all".repeat(10).getBytes());
        assertProblem(garbage, "not a memreg counters file (bad magic)");
        assertProblem(Files.write(dir.resolve("1-empty.stat"), new byte[0]), "empty (still being created, or truncated)");
        assertProblem(Files.write(dir.resolve("1-zeros.stat"), new byte[4096]), "no magic yet");
        assertProblem(dir.resolve("1-missing.stat"), "no such file");
        try (CountersFile file = CountersFile.create(dir, "good", 2, 0)) {
            file.allocate(SetKind.CACHE, "a cache");
            byte[] bytes = Files.readAllBytes(file.path());
            assertProblem(Files.write(dir.resolve("1-short.stat"), Arrays.copyOf(bytes, 100)), "truncated: 100 bytes");
            assertProblem(Files.write(dir.resolve("1-cut.stat"), Arrays.copyOf(bytes, bytes.length - 8)),
                    "truncated: " + (bytes.length - 8) + " bytes, 2 sets need " + bytes.length);
            Path future = Files.write(dir.resolve("1-future.stat"), bytes);
            patchInt(future, CountersFile.VERSION_OFFSET, 9);
            assertProblem(future, "layout version 9, this reader knows " + CountersFile.LAYOUT_VERSION);
            Path badName = Files.write(dir.resolve("1-badname.stat"), bytes);
            patchInt(badName, CountersFile.NAME_LENGTH_OFFSET, 1_000_000);
            assertProblem(badName, "corrupt header: a string of 1000000 bytes");
            Path badSet = Files.write(dir.resolve("1-badset.stat"), bytes);
            patchInt(badSet, CountersFile.HEADER_LENGTH + CountersFile.SET_COUNT_OFFSET, 1_000);
            assertProblem(badSet, "corrupt set 0: 1000 counters, room for " + CountersFile.SLOTS_PER_SET);
            Path hugeSets = Files.write(dir.resolve("1-huge.stat"), bytes);
            patchInt(hugeSets, CountersFile.SET_LENGTH_OFFSET, 8);
            assertProblem(hugeSets, "corrupt header: 2 sets of 8 bytes");
        }
    }

    private static void assertProblem(Path path, String problem) {
        CountersFileException e = assertThrows(CountersFileException.class, () -> CountersReader.read(path));
        assertTrue(e.getMessage().startsWith(path + ": " + problem), e.getMessage());
    }

    @Test
    void shouldReportAFileWhoseProcessIsGoneAsDead() throws IOException {
        try (CountersFile file = CountersFile.create(dir, "template", 1, 0)) {
            byte[] bytes = Files.readAllBytes(file.path());
            long deadPid = Integer.MAX_VALUE; // above any pid_max
            Path dead = Files.write(dir.resolve(deadPid + "-crashed.stat"), bytes);
            patchLong(dead, CountersFile.PID_OFFSET, deadPid);
            assertFalse(CountersReader.read(dead).alive());

            // Our own pid, but a file older than this JVM: the pid was reused after a crash.
            long pid = ProcessHandle.current().pid();
            Path reused = Files.write(dir.resolve(pid + "-reused.stat"), bytes);
            patchLong(reused, CountersFile.START_TIME_OFFSET, 1_000);
            assertFalse(CountersReader.read(reused).alive());

            List<CountersReader.Listing> listings = new CountersReader(dir).list();
            assertEquals(Set.of("template:true", "reused:true", "crashed:false"),
                    listings.stream().map(l -> l.name() + ":" + l.alive()).collect(Collectors.toSet()));
            assertEquals(List.of("reused", "template", "crashed"), listings.stream().map(CountersReader.Listing::name).toList(),
                    "sorted by pid, then name");
        }
    }

    @Test
    void shouldReplaceAFileOfOursLeftByAnEarlierProcessWithOurPid() throws IOException {
        long pid = ProcessHandle.current().pid();
        Path stale;
        try (CountersFile file = CountersFile.create(dir, "template", 1, 0)) {
            stale = Files.write(dir.resolve(pid + "-again.stat"), Files.readAllBytes(file.path()));
        }
        patchLong(stale, CountersFile.START_TIME_OFFSET, 1_000);
        try (CountersFile file = CountersFile.create(dir, "again", 1, 0)) {
            assertEquals(stale, file.path());
            assertTrue(CountersReader.read(stale).alive());
        }
    }

    @Test
    void shouldListNothingWhenTheDirectoryDoesNotExist() throws IOException {
        assertEquals(List.of(), new CountersReader(dir.resolve("nowhere")).list());
    }

    @Test
    void shouldUseTheConfiguredDirectory() {
        String old = System.getProperty(CountersFile.DIR_PROP_NAME);
        try {
            System.setProperty(CountersFile.DIR_PROP_NAME, dir.toString());
            assertEquals(dir, CountersFile.directory());
            System.clearProperty(CountersFile.DIR_PROP_NAME);
            String perUser = "memreg-" + CountersFile.sanitize(System.getProperty("user.name"));
            Path expected = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm", perUser)
                    : Path.of(System.getProperty("java.io.tmpdir"), perUser);
            assertEquals(expected, CountersFile.directory());
        } finally {
            if (old != null) {
                System.setProperty(CountersFile.DIR_PROP_NAME, old);
            }
        }
    }

    /** Every statistic has a counter labelled with its name: add a CounterId when a *Stats record grows. */
    @Test
    void shouldHaveACounterForEveryStatistic() {
        Set<String> labels = Arrays.stream(CounterId.values()).map(CounterId::label).collect(Collectors.toSet());
        for (RecordComponent component : CacheStats.class.getRecordComponents()) {
            assertTrue(labels.contains(component.getName()), "no CounterId labelled " + component.getName());
        }
        Set<String> odpLabels = CounterId.odpCounters().stream().map(CounterId::label).collect(Collectors.toSet());
        Set<String> odpStats = Arrays.stream(OdpStats.class.getRecordComponents()).map(c -> "odp." + c.getName())
                .collect(Collectors.toSet());
        assertEquals(odpStats, odpLabels, "one odp.* CounterId per OdpStats component, and no other");
        for (RecordComponent component : MonitorStats.class.getRecordComponents()) {
            assertTrue(labels.contains("monitor." + component.getName()),
                    "no CounterId labelled monitor." + component.getName());
        }
    }

    /** A directory per user, 0700, so that one user's files never stop or expose another's. */
    @Test
    void shouldMakeThePerUserDirectoryPrivateAndRefuseAnotherUsersOne() throws IOException {
        Path mine = dir.resolve("memreg-me");
        CountersFile.preparePerUser(mine);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(mine)));
        CountersFile.preparePerUser(mine); // again: it is this user's own
        Path link = Files.createSymbolicLink(dir.resolve("memreg-link"), mine);
        IOException linked = assertThrows(IOException.class, () -> CountersFile.preparePerUser(link));
        assertTrue(linked.getMessage().contains("is not a directory"), linked.getMessage());
        Path theirs = dir.resolve("memreg-them");
        Files.createDirectory(theirs);
        assumeTrue(ProcStatus.effectiveUid() == 0, "giving a directory to another user needs root");
        Files.setAttribute(theirs, "unix:uid", 65534);
        IOException refused = assertThrows(IOException.class, () -> CountersFile.preparePerUser(theirs));
        assertTrue(refused.getMessage().contains("belongs to uid 65534") && refused.getMessage().contains("-D"
                + CountersFile.DIR_PROP_NAME), refused.getMessage());
    }

    @Test
    void shouldKeepCounterIdsStable() {
        assertEquals(1, CounterId.HITS.id());
        assertEquals(19, CounterId.DEVICE_NANOS.id());
        assertEquals(28, CounterId.MONITOR_DELIVERY_NANOS_MAX.id());
        assertEquals(29, CounterId.ODP_INVALIDATIONS_SENT.id());
        assertEquals(30, CounterId.ODP_INVALIDATIONS_ACKED.id());
        assertEquals(31, CounterId.ODP_FAULTS.id());
        assertEquals(32, CounterId.ODP_PAGES_RECLAIMED.id());
        assertEquals(33, CounterId.ODP_PAGES_REESTABLISHED.id());
        assertEquals(34, CounterId.ODP_LEASE_EXPIRIES.id());
        assertEquals(35, CounterId.MONITOR_HOOK_EVENTS.id());
        assertEquals(36, CounterId.MONITOR_HOOK_OVERFLOWS.id());
        assertEquals(37, CounterId.MONITOR_HOOK_FAILURES.id());
        assertEquals(38, CounterId.MONITOR_STRICT_REFUSALS.id());
        assertEquals(39, CounterId.PINNED_BYTES.id());
        assertEquals(42, CounterId.ODP_PEERS_GONE.id());
        for (CounterId counter : CounterId.values()) {
            assertEquals(counter, CounterId.byId(counter.id()));
            assertTrue(counter.label().getBytes().length <= CountersFile.LABEL_MAX_BYTES);
        }
        for (SetKind kind : SetKind.values()) {
            assertTrue(kind.counters().size() <= CountersFile.SLOTS_PER_SET, kind + " fits a record");
            assertEquals(kind, SetKind.byCode(kind.code()));
        }
        assertEquals(1, SetKind.CACHE.code());
        assertEquals(2, SetKind.ODP_REGION.code());
        assertEquals(3, SetKind.ODP_MAPPING.code());
        assertEquals(null, CounterId.byId(0));
        assertEquals(null, CounterId.byId(10_000));
    }

    /** A cache's set holds its and its monitor's counters, an ODP set the odp.* ones: together all, no overlap. */
    @Test
    void shouldSplitTheCountersIntoTheCachesAndOdps() {
        EnumSet<CounterId> cache = CounterId.cacheCounters();
        EnumSet<CounterId> odp = CounterId.odpCounters();
        assertEquals(EnumSet.range(CounterId.HITS, CounterId.MONITOR_READER_FAILURES), cache);
        assertEquals(EnumSet.range(CounterId.ODP_INVALIDATIONS_SENT, CounterId.ODP_PEERS_GONE), odp);
        assertTrue(cache.stream().noneMatch(odp::contains));
        cache.addAll(odp);
        assertEquals(EnumSet.allOf(CounterId.class), cache);
    }

    static void patchInt(Path path, long offset, int value) throws IOException {
        patch(path, offset, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).flip());
    }

    static void patchLong(Path path, long offset, long value) throws IOException {
        patch(path, offset, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).flip());
    }

    private static void patch(Path path, long offset, ByteBuffer bytes) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
            channel.write(bytes, offset);
        }
    }
}
