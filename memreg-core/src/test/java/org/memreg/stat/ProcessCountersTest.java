package org.memreg.stat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.SystemProperty;
import org.memreg.testkit.Unprivileged;

/** The process's one counters file and its one publisher thread. */
@Unprivileged
class ProcessCountersTest {
    @TempDir
    Path dir;
    private SystemProperty counterDirectory;

    @BeforeEach
    void useTheTemporaryDirectory() {
        assertNull(ProcessCounters.file(), "a set of an earlier test is still open");
        counterDirectory = SystemProperty.set(CountersFile.DIR_PROP_NAME, dir.toString());
    }

    @AfterEach
    void restore() {
        counterDirectory.close();
    }

    @Test
    void shouldPutEverySetInOneFileRefreshThemAndDeleteItWithTheLast() throws Exception {
        AtomicLong refreshed = new AtomicLong();
        Path path;
        try (CounterSet cache = ProcessCounters.open(SetKind.CACHE, "c", true);
                CounterSet region = ProcessCounters.open(SetKind.ODP_REGION, "r", true);
                CounterSet mapping = ProcessCounters.open(SetKind.ODP_MAPPING, "m", true)) {
            cache.refreshWith(() -> cache.counter(CounterId.HITS).setOrdered(refreshed.incrementAndGet()));
            region.counter(CounterId.ODP_FAULTS).increment();
            mapping.counter(CounterId.ODP_FAULTS).add(5);
            path = ProcessCounters.file().path();
            assertEquals(dir.resolve(ProcessHandle.current().pid() + "-memreg.stat"), path);
            try (var files = Files.list(dir)) {
                assertEquals(1, files.count(), "one file for the process");
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (refreshed.get() < 3) { // the publisher thread refreshes on its own
                assertTrue(System.nanoTime() < deadline, "refreshed within 10 s");
                Thread.sleep(5);
            }
            ProcessCounters.publishNow();
            CountersReader.Snapshot snapshot = CountersReader.read(path);
            assertEquals(refreshed.get(), snapshot.sets(SetKind.CACHE, "c").get(0).value(CounterId.HITS).orElseThrow());
            assertEquals(1L, snapshot.sets(SetKind.ODP_REGION, "r").get(0).value(CounterId.ODP_FAULTS).orElseThrow());
            assertEquals(5L, snapshot.sets(SetKind.ODP_MAPPING, "m").get(0).value(CounterId.ODP_FAULTS).orElseThrow());
            region.close();
            assertEquals(2, CountersReader.read(path).sets().size(), "the region's set is gone");
            assertTrue(Files.exists(path), "two sets are still open");
        }
        assertFalse(Files.exists(path), "the last set closed: the file is deleted");
        assertNull(ProcessCounters.file());
        long after = refreshed.get();
        Thread.sleep(3 * ProcessCounters.INTERVAL_DEFAULT);
        assertEquals(after, refreshed.get(), "a closed set is not refreshed any more");
    }

    @Test
    void shouldCountInMemoryWhenNotPublished() throws Exception {
        try (CounterSet set = ProcessCounters.open(SetKind.CACHE, "private", false)) {
            set.counter(CounterId.MISSES).addOrdered(3);
            assertEquals(3, set.counter(CounterId.MISSES).get());
            assertNull(ProcessCounters.file());
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }

    /** A directory that cannot be made (a file is in the way): the set counts in memory, nothing throws. */
    @Test
    void shouldCountInMemoryWhenTheFileCannotBeMade() throws Exception {
        Path blocked = Files.writeString(dir.resolve("blocked"), "a file, not a directory");
        System.setProperty(CountersFile.DIR_PROP_NAME, blocked.resolve("sub").toString());
        try (CounterSet set = ProcessCounters.open(SetKind.ODP_MAPPING, "nowhere", true)) {
            set.counter(CounterId.ODP_FAULTS).increment();
            assertEquals(1, set.counter(CounterId.ODP_FAULTS).get());
            assertNull(ProcessCounters.file());
        }
    }

    @Test
    void shouldKeepRefreshingTheOthersWhenARefresherThrows() throws Exception {
        long failures = ProcessCounters.failures();
        AtomicLong good = new AtomicLong();
        try (CounterSet bad = ProcessCounters.open(SetKind.CACHE, "bad", true);
                CounterSet fine = ProcessCounters.open(SetKind.CACHE, "fine", true)) {
            bad.refreshWith(() -> {
                throw new IllegalStateException("broken on purpose");
            });
            fine.refreshWith(good::incrementAndGet);
            ProcessCounters.publishNow();
            ProcessCounters.publishNow();
            assertTrue(good.get() >= 2, "refreshed despite the other");
            assertTrue(ProcessCounters.failures() >= failures + 2);
        }
    }
}
