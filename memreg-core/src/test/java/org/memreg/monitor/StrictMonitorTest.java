package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;

/**
 * Strict mode: userfaultfd, and the kernel asked on every hit ({@code UFFDIO_WRITEPROTECT} mode 0
 * on the registration's first page). It trusts no registration the kernel does not vouch for
 * (memory userfaultfd cannot watch: {@link UnwatchableMemoryTest}).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StrictMonitorTest {
    static final long LENGTH = 16 * 4096;

    @Test
    void shouldHitWatchedMemoryAndMissChangedMemory() {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(MonitorMode.STRICT)).build()) {
            assertEquals("strict", cache.monitor().name());
            long address = HookMonitorTest.touched(Mman.mapAnonymous(LENGTH));
            long key;
            try (Registration first = cache.acquire(address, LENGTH, Access.ALL)) {
                key = first.localKey();
            }
            try (Registration again = cache.acquire(address, LENGTH, Access.ALL)) {
                assertEquals(key, again.localKey(), "the kernel vouched: a hit");
            }
            Mman.munmapBypassingLibc(address, LENGTH);
            HookMonitorTest.touched(HookMonitorTest.mapAt(address));
            try (Registration fresh = cache.acquire(address, LENGTH, Access.ALL)) {
                assertNotEquals(key, fresh.localKey(), "new memory: a miss");
            }
            CacheStats stats = cache.stats();
            assertEquals(1, stats.hits());
            assertEquals(2, stats.misses());
            Mman.munmap(address, LENGTH);
        }
    }
}
