package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.testkit.Await;
import org.memreg.testkit.Unprivileged;

/**
 * A userfaultfd monitor whose reader or delivery fails (here: an eventfd of theirs replaced
 * behind their back, as a buggy library's stray close and reopen would) must neither leave
 * unmaps of watched memory asleep nor let the cache trust what it no longer sees: it closes its
 * userfaultfd, invalidates every registration, and from then on the cache keeps none.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Unprivileged
class BrokenMonitorTest {
    static final long LENGTH = 16 * 4096;

    /**
     * {@code which}: {@link EventFdSabotage#READER_STOP} or {@link EventFdSabotage#DELIVERY_READY};
     * {@code strict}: the strict monitor, which asks the kernel on every hit.
     */
    @ParameterizedTest
    @CsvSource({"0, false", "1, false", "0, true", "1, true"})
    void aFailedMonitorShouldReleaseUnmapsAndLetTheCacheKeepNothing(int which, boolean strict) throws Throwable {
        UserfaultfdMonitor monitor = strict ? UserfaultfdMonitor.openStrict() : UserfaultfdMonitor.open(false);
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null).monitor(monitor).build()) {
            long kept = HookMonitorTest.touched(Mman.mapAnonymous(LENGTH));
            long unmapped = HookMonitorTest.touched(Mman.mapAnonymous(LENGTH));
            long keptKey = acquireTwice(cache, kept, true);
            long unmappedKey = acquireTwice(cache, unmapped, true);

            EventFdSabotage.replaceWithDevNull(monitor, which);
            Await.until(() -> monitor.stats().readerFailures() > 0, Duration.ofSeconds(20), "the monitor noticed");
            assertEquals(1, monitor.stats().readerFailures(), "the monitor noticed once");
            Thread unmapper = Thread.ofPlatform().start(() -> Mman.munmap(unmapped, LENGTH));
            unmapper.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(unmapper.isAlive(), "the unmap of watched memory sleeps: the reader is gone, its userfaultfd open");

            assertNotEquals(keptKey, acquireTwice(cache, kept, false), "every registration was invalidated");
            HookMonitorTest.touched(HookMonitorTest.mapAt(unmapped));
            assertNotEquals(unmappedKey, acquireTwice(cache, unmapped, false), "new memory at the address: a miss");
            CacheStats stats = cache.stats();
            assertEquals(0, stats.registeredBytes(), "nothing kept once the monitor failed: " + stats);
            assertTrue(monitor.stats().watchFailures() >= 4, monitor.stats().toString());
            Mman.munmap(kept, LENGTH);
            Mman.munmap(unmapped, LENGTH);
        }
    }

    /** Acquires and releases twice; the second is a hit on the first exactly when {@code cached}. */
    private static long acquireTwice(RegistrationCache cache, long address, boolean cached) {
        long key;
        try (Registration first = cache.acquire(address, LENGTH, Access.ALL)) {
            key = first.localKey();
        }
        try (Registration second = cache.acquire(address, LENGTH, Access.ALL)) {
            assertEquals(cached, second.localKey() == key, cached ? "a hit" : "a miss again: not cached");
        }
        return key;
    }
}
