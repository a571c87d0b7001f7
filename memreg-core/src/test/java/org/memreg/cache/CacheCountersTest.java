package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.stat.CountersFile;
import org.memreg.stat.CountersReader;
import org.memreg.stat.ProcessCounters;
import org.memreg.stat.SetKind;
import org.memreg.testkit.SystemProperty;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * The cache's counters are its storage: what {@link RegistrationCache#stats()} returns is what the
 * process's counters file shows, and {@code stats()} takes no lock the miss path holds.
 */
@Unprivileged
class CacheCountersTest {
    private static final long PAGE = 4096;

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

    /** Every component of stats() equals the counter of its name in the cache's set of the file. */
    @Test
    void shouldShowInTheFileWhatStatsReturns() throws Throwable {
        try (RegistrationCache cache = RegistrationCache.builder(new InMemoryTestDevice()).maxEntries(3)
                .monitor(MemoryMonitor.NONE).statsName("counted").build()) {
            for (int round = 0; round < 3; round++) {
                for (long page = 0; page < 5; page++) {
                    cache.acquire(0x10_0000 + page * PAGE, PAGE, Access.LOCAL_READ).close();
                }
            }
            try (Registration held = cache.acquire(0x20_0000, 2 * PAGE, Access.LOCAL_READ)) {
                cache.invalidate(0x20_0000, PAGE); // held: deregistered when released
                cache.acquire(0x30_0000, PAGE, Access.LOCAL_READ).close();
                cache.acquire(0x30_0000, PAGE, Access.LOCAL_READ).close(); // a hit
                cache.trim(PAGE);
                ProcessCounters.publishNow();
                CacheStats stats = cache.stats();
                assertTrue(stats.hits() > 0 && stats.misses() > 0 && stats.evictionsMaxEntries() > 0
                        && stats.invalidations() == 1 && stats.retiredEntries() == 1 && stats.trimmed() == 1,
                        stats.toString());
                List<CountersReader.SetSnapshot> sets = CountersReader.read(ProcessCounters.file().path())
                        .sets(SetKind.CACHE, "counted");
                assertEquals(1, sets.size());
                for (RecordComponent component : CacheStats.class.getRecordComponents()) {
                    long shown = sets.get(0).counters().stream().filter(c -> c.label().equals(component.getName()))
                            .findFirst().orElseThrow().value();
                    assertEquals((long) component.getAccessor().invoke(stats), shown, component.getName());
                }
            }
            assertEquals(1, cache.stats().deferredDeregistrations());
        }
    }

    /**
     * A miss stuck in the device holds the miss lock; stats() from another thread still answers,
     * counting the misses already done (it would wait for ever if it took the lock).
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void statsShouldNotWaitForAMissInProgress() throws Exception {
        CountDownLatch inDevice = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        BlockingDevice device = new BlockingDevice(new InMemoryTestDevice(), inDevice, letGo);
        try (RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE)
                .statsName(null).build()) {
            cache.acquire(0x10_0000, PAGE, Access.LOCAL_READ).close();
            cache.acquire(0x10_0000, PAGE, Access.LOCAL_READ).close();
            device.blockNext = true;
            // Threads of their own: the common pool may have one thread on a small machine.
            CompletableFuture<Void> stuck = CompletableFuture.runAsync(
                    () -> cache.acquire(0x20_0000, PAGE, Access.LOCAL_READ).close(), r -> Thread.ofPlatform().start(r));
            assertTrue(inDevice.await(10, TimeUnit.SECONDS), "the miss reached the device");
            try {
                CacheStats stats = CompletableFuture.supplyAsync(cache::stats, r -> Thread.ofPlatform().start(r))
                        .get(10, TimeUnit.SECONDS);
                assertEquals(1, stats.hits());
                assertEquals(2, stats.misses(), "the stuck miss is counted before the device call");
                assertEquals(1, stats.entries());
            } finally {
                letGo.countDown();
            }
            stuck.get(10, TimeUnit.SECONDS);
            assertEquals(2, cache.stats().entries());
        }
    }

    /**
     * Threads hit and miss (evicting, as maxEntries is small) while another calls stats() in a loop:
     * the counters it sees never go down, and at the end hits + misses is exactly the acquires made.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void statsInALoopShouldStayConsistentWhileMissesRun() throws Exception {
        long seed = TestSeeds.seed("CacheCountersTest");
        int threads = 4;
        int acquiresEach = 20_000;
        try (RegistrationCache cache = RegistrationCache.builder(new InMemoryTestDevice()).maxEntries(16)
                .monitor(MemoryMonitor.NONE).statsName("looped").build()) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                SplittableRandom random = new SplittableRandom(seed + t);
                workers.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < acquiresEach; i++) {
                            long page = random.nextInt(random.nextBoolean() ? 8 : 64); // a hot set and a cold one
                            cache.acquire(0x100_0000 + page * PAGE, PAGE, Access.LOCAL_READ).close();
                        }
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                }));
            }
            AtomicLong reads = new AtomicLong();
            CacheStats last = cache.stats();
            while (workers.stream().anyMatch(Thread::isAlive)) {
                CacheStats now = cache.stats();
                assertGrew(last, now);
                assertTrue(now.entries() <= 16 + threads, now.toString());
                last = now;
                reads.incrementAndGet();
            }
            for (Thread worker : workers) {
                worker.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("seed " + seed, failure.get());
            }
            CacheStats end = cache.stats();
            assertGrew(last, end);
            System.out.println("CacheCountersTest " + reads + " stats() calls during the run; " + end);
            assertEquals((long) threads * acquiresEach, end.hits() + end.misses(), "seed " + seed + ": " + end);
            assertTrue(end.evictionsMaxEntries() > 0 && end.hits() > 0, end.toString());
            assertEquals(end.registrations() - end.deregistrations(), end.entries() + end.retiredEntries(), end.toString());
            assertTrue(reads.get() > 10, "stats() ran during the misses: " + reads);
            ProcessCounters.publishNow();
            CountersReader.SetSnapshot set = CountersReader.read(ProcessCounters.file().path())
                    .sets(SetKind.CACHE, "looped").get(0);
            assertEquals(end.hits(), set.value(org.memreg.stat.CounterId.HITS).orElseThrow(), "the file's hits");
        }
    }

    private static void assertGrew(CacheStats before, CacheStats after) {
        assertTrue(after.hits() >= before.hits() && after.misses() >= before.misses()
                && after.registrations() >= before.registrations() && after.deregistrations() >= before.deregistrations()
                && after.evictionsMaxEntries() >= before.evictionsMaxEntries(),
                "a counter went down: " + before + " then " + after);
    }

    /** Delegates to a device, but blocks the next registration until let go (holding the miss lock). */
    private static final class BlockingDevice implements Device {
        private final Device inner;
        private final CountDownLatch inDevice;
        private final CountDownLatch letGo;
        volatile boolean blockNext;

        BlockingDevice(Device inner, CountDownLatch inDevice, CountDownLatch letGo) {
            this.inner = inner;
            this.inDevice = inDevice;
            this.letGo = letGo;
        }

        @Override
        public String name() {
            return "blocking";
        }

        @Override
        public MemoryRegion register(long address, long length, Access access) {
            if (blockNext) {
                blockNext = false;
                inDevice.countDown();
                try {
                    letGo.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return inner.register(address, length, access);
        }

        @Override
        public void deregister(MemoryRegion region) {
            inner.deregister(region);
        }

        @Override
        public long registeredBytes() {
            return inner.registeredBytes();
        }

        @Override
        public void close() {
        }
    }
}
