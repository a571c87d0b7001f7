package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MlockDevice;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Many threads acquire, hold, release, invalidate and trim at random on one cache, then the
 * invariants are checked: every registration covered what was asked with the access asked,
 * nothing held is ever evicted or deregistered under its holder, the counts add up, and closing
 * leaves nothing pinned (VmLck back to where it was, for the real mlock device).
 */
@Unprivileged
class RegistrationCacheStressTest {
    static final long PAGE = 4096;
    static final int THREADS = 8;
    static final int OPS_PER_THREAD = Boolean.getBoolean("memreg.test.long") ? 500_000 : 25_000;
    static final int ARENA_PAGES = 256;

    @Test
    void shouldKeepInvariantsUnderConcurrencyWithMlock() throws Exception {
        long arena = Mman.mapAnonymous(ARENA_PAGES * PAGE);
        long lockedBefore = ProcStatus.vmLockedBytes();
        try (MlockDevice device = MlockDevice.builder().build()) {
            stress(device, arena, device::registeredBytes);
            assertEquals(0, device.registeredBytes());
        } finally {
            Mman.munmap(arena, ARENA_PAGES * PAGE);
        }
        assertEquals(lockedBefore, ProcStatus.vmLockedBytes(), "VmLck back to where it was");
    }

    @Test
    void shouldKeepInvariantsUnderConcurrencyWithAFullDevice() throws Exception {
        InMemoryTestDevice device = new InMemoryTestDevice(128 * PAGE, 32);
        stress(device, 0x7c00_0000_0000L, device::registeredBytes);
        assertEquals(0, device.liveRegions());
        assertEquals(0, device.protocolErrors, "never deregistered twice");
    }

    private void stress(Device device, long arena, java.util.function.LongSupplier deviceBytes) throws Exception {
        long seed = TestSeeds.seed("RegistrationCacheStressTest device=" + device.name());
        AtomicLong acquired = new AtomicLong();
        AtomicLong exhausted = new AtomicLong();
        RegistrationCache cache = RegistrationCache.builder(device).maxEntries(48).maxBytes(160 * PAGE).build();
        try {
            RcachePortsTest.onThreads(THREADS, thread -> {
                SplittableRandom random = new SplittableRandom(seed + thread);
                ArrayDeque<Registration> held = new ArrayDeque<>();
                for (int op = 0; op < OPS_PER_THREAD; op++) {
                    int dice = random.nextInt(100);
                    if (dice < 55 && held.size() < 3) {
                        long address;
                        long length;
                        if (random.nextBoolean()) { // a pool of 8-page buffers, reused: mostly hits
                            address = arena + random.nextInt(ARENA_PAGES / 8 - 1) * 8 * PAGE;
                            length = 8 * PAGE - random.nextInt(2) * PAGE;
                        } else { // anywhere: partial overlaps, merges, replacements
                            address = arena + random.nextInt(ARENA_PAGES - 8) * PAGE + random.nextInt((int) PAGE);
                            length = 1 + random.nextLong(4 * PAGE);
                        }
                        Access access = Access.fromBits(random.nextInt(8));
                        try {
                            Registration reg = cache.acquire(address, length, access);
                            assertTrue(reg.covers(address, length), reg + " covers " + address + "+" + length);
                            assertTrue(reg.access().includes(access));
                            held.add(reg);
                            acquired.incrementAndGet();
                        } catch (ResourceExhaustedException e) {
                            exhausted.incrementAndGet(); // everything evictable is held by other threads
                        }
                    } else if (dice < 95 && !held.isEmpty()) {
                        Registration reg = random.nextBoolean() ? held.pollFirst() : held.pollLast();
                        reg.close();
                    } else if (dice < 98) {
                        cache.invalidate(arena + random.nextInt(ARENA_PAGES) * PAGE, PAGE * (1 + random.nextInt(4)));
                    } else {
                        cache.trim(random.nextLong(16 * PAGE));
                    }
                }
                held.forEach(Registration::close);
            });
            CacheStats stats = cache.stats();
            System.out.println("  " + stats + " exhausted=" + exhausted.get());
            assertEquals(acquired.get() + exhausted.get(), stats.hits() + stats.misses(),
                    "every acquire counted once, as a hit or a miss (a refused one as a miss)");
            assertEquals(0, stats.inUseBytes(), "nothing held");
            assertEquals(0, stats.retiredEntries(), "every retired entry went with its last holder");
            assertEquals(stats.registrations() - stats.deregistrations(), stats.entries());
            assertEquals(stats.registeredBytes(), deviceBytes.getAsLong(), "pinned bytes = live registrations");
            assertTrue(stats.pinnedBytes() <= stats.registeredBytes(), stats.toString());
            assertTrue(stats.entries() <= 48 && stats.registeredBytes() <= 160 * PAGE, "within limits");
            assertTrue(stats.hits() > 0 && stats.evictions() > 0 && stats.invalidations() > 0, stats.toString());
        } finally {
            cache.close();
        }
        assertEquals(0, deviceBytes.getAsLong(), "nothing registered after close");
    }
}
