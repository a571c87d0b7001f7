package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;
import org.memreg.device.DeviceException;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.testkit.Unprivileged;

/**
 * Ports of the registration-cache cases other libraries test theirs with: UCX's test_rcache,
 * Open MPI's overlap case (seed 002), and libfabric's cache_full.
 */
@Unprivileged
class RcachePortsTest {
    static final long PAGE = 4096;
    static final long BASE = 0x7e00_0000_0000L;
    static final long MIB = 1 << 20;

    final InMemoryTestDevice device = new InMemoryTestDevice();
    final List<RegistrationCache> caches = new ArrayList<>();

    RegistrationCache cache(RegistrationCacheBuilder builder) {
        RegistrationCache cache = builder.build();
        caches.add(cache);
        return cache;
    }

    @AfterEach
    void noLeaks() {
        caches.forEach(RegistrationCache::close);
        assertEquals(0, device.liveRegions());
        assertEquals(0, device.protocolErrors);
    }

    @Test
    void basic() throws Exception {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        onThreads(10, thread -> {
            long address = BASE + thread * 2 * MIB;
            Registration reg = cache.acquire(address, MIB, Access.ALL);
            assertTrue(reg.covers(address, MIB));
            reg.close();
        });
        assertEquals(10, cache.stats().misses());
        assertEquals(10, device.liveRegions());
    }

    @Test
    void putAndInvalidate() {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        Registration reg = cache.acquire(BASE, MIB, Access.ALL);
        cache.invalidate(BASE, MIB); // the memory went away while held
        assertEquals(1, device.liveRegions(), "held: deregistration deferred");
        reg.close();
        assertEquals(0, device.liveRegions(), "put after invalidate deregisters");
        assertEquals(1, cache.stats().deferredDeregistrations());
    }

    @Test
    void merge() {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        long size1 = 256 * PAGE;
        long size2 = 512 * PAGE;
        long pad = 64 * PAGE;
        Registration region1 = cache.acquire(BASE, size1, Access.ALL);
        Registration region1Again = cache.acquire(BASE, size1, Access.ALL);
        assertSame(region1.entry(), region1Again.entry());
        region1Again.close();
        Registration region2 = cache.acquire(BASE + size1 + pad, size2, Access.ALL);
        Registration region3 = cache.acquire(BASE + pad, size1 + size2 - pad, Access.ALL);
        Registration region1Merged = cache.acquire(BASE, size1, Access.ALL);
        assertNotSame(region1.entry(), region1Merged.entry(), "region1 was merged into region3");
        assertSame(region3.entry(), region1Merged.entry());
        assertEquals(BASE, region3.address());
        assertEquals(size1 + pad + size2, region3.length());
        region1Merged.close();
        region1.close();
        region2.close();
        region3.close();
        assertEquals(1, device.liveRegions());
    }

    @Test
    void mergeInvalidatesUnusedNeighbourAtOnce() {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        Registration region1 = cache.acquire(BASE, 64 * PAGE, Access.ALL);
        long key1 = region1.localKey();
        region1.close();
        try (Registration region2 = cache.acquire(BASE + 16 * PAGE, 128 * PAGE, Access.ALL)) {
            assertTrue(key1 != region2.localKey());
            assertEquals(1, device.liveRegions(), "region1 was destroyed by the merge");
        }
    }

    @Test
    void releaseInUse() {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        Registration region1 = cache.acquire(BASE, MIB, Access.ALL);
        cache.invalidate(BASE, MIB); // free(ptr1)
        Registration region2 = cache.acquire(BASE, MIB, Access.ALL); // malloc returns the same address
        region2.close();
        assertTrue(device.isLive(BASE, MIB) && device.liveRegions() == 2, "region1 still registered for its holder");
        assertFalse(region1.isValid());
        region1.close();
        assertEquals(1, device.liveRegions());
    }

    @Test
    void registerFailure() throws Exception {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        onThreads(10, thread -> {
            synchronized (device) {
                device.failNextRegistration(new DeviceException("EIO"));
                assertThrows(DeviceException.class, () -> cache.acquire(BASE + thread * 2 * MIB, MIB, Access.ALL));
            }
        });
        assertEquals(0, device.liveRegions());
        assertEquals(0, cache.stats().entries());
    }

    @Test
    void byCount() {
        RegistrationCache cache = cache(RegistrationCache.builder(device).maxEntries(8));
        for (int i = 0; i < 20; i++) {
            cache.acquire(BASE + i * 2 * PAGE, PAGE, Access.ALL).close();
            assertTrue(cache.stats().entries() <= 8);
        }
        assertEquals(8, device.liveRegions());
        assertEquals(12, cache.stats().evictionsMaxEntries());
        for (int i = 12; i < 20; i++) {
            assertTrue(device.isLive(BASE + i * 2 * PAGE, PAGE), "the 8 most recent stay");
        }
    }

    @Test
    void bySize() {
        RegistrationCache cache = cache(RegistrationCache.builder(device).maxBytes(16 * PAGE));
        for (int i = 0; i < 20; i++) {
            cache.acquire(BASE + i * 8 * PAGE, 4 * PAGE, Access.ALL).close();
            assertTrue(cache.stats().registeredBytes() <= 16 * PAGE);
        }
        assertEquals(4, device.liveRegions());
        assertEquals(16, cache.stats().evictionsMaxBytes());
    }

    @Test
    void bySizeInUseIsNeverEvictedAndOverflowFailsCleanly() {
        // UCX lets the cache overshoot its size while everything is in use; memreg keeps the
        // limit and says so, then evicts once regions are released.
        RegistrationCache cache = cache(RegistrationCache.builder(device).maxBytes(16 * PAGE));
        List<Registration> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(cache.acquire(BASE + i * 8 * PAGE, 4 * PAGE, Access.ALL));
        }
        ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                () -> cache.acquire(BASE + 100 * PAGE, 4 * PAGE, Access.ALL));
        assertTrue(e.getMessage().contains("maxBytes 64 KiB"), e.getMessage());
        held.forEach(reg -> assertTrue(reg.isValid()));
        held.forEach(Registration::close);
        cache.acquire(BASE + 100 * PAGE, 4 * PAGE, Access.ALL).close();
        assertEquals(1, cache.stats().evictionsMaxBytes());
        assertFalse(device.isLive(BASE, 4 * PAGE), "the least recently released went");
    }

    @Test
    void sharedRegion() throws Exception {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        long size1 = MIB * 2 / 3 & ~(PAGE - 1);
        onThreads(6, thread -> {
            for (int i = 0; i < 200; i++) {
                try (Registration first = cache.acquire(BASE, size1, Access.ALL)) {
                    assertTrue(first.covers(BASE, size1));
                }
                try (Registration second = cache.acquire(BASE + MIB - size1, size1, Access.ALL)) {
                    assertTrue(second.covers(BASE + MIB - size1, size1));
                }
            }
        });
        CacheStats stats = cache.stats();
        assertEquals(0, stats.inUseBytes());
        assertEquals(6 * 200 * 2, stats.hits() + stats.misses());
        assertTrue(stats.misses() <= 6 * 200 * 2 && stats.entries() >= 1);
    }

    @Test
    void openMpiOverlapReleasingBigFirst() {
        openMpiOverlap(true);
    }

    @Test
    void openMpiOverlapReleasingSmallFirst() {
        openMpiOverlap(false);
    }

    /** Seed 002: register 0x1000-0x3fff, then 0x2000-0x2fff; release in either order. */
    private void openMpiOverlap(boolean bigFirst) {
        RegistrationCache cache = cache(RegistrationCache.builder(device));
        long base = BASE + 0x1000;
        Registration big = cache.acquire(base, 0x3000, Access.ALL);
        Registration small = cache.acquire(base + 0x1000, 0x1000, Access.ALL);
        assertSame(big.entry(), small.entry(), "the sub-range is a hit on the big registration");
        (bigFirst ? big : small).close();
        assertEquals(3 * PAGE, cache.stats().inUseBytes(), "still held by the other");
        assertTrue((bigFirst ? small : big).isValid());
        (bigFirst ? small : big).close();
        CacheStats stats = cache.stats();
        assertEquals(0, stats.inUseBytes());
        assertEquals(3 * PAGE, stats.registeredBytes(), "kept on the able-to-be-deregistered list");
        assertEquals(1, device.liveRegions());
    }

    @Test
    void evictOneAndRetryOnRegistrationFailure() {
        InMemoryTestDevice small = new InMemoryTestDevice(Long.MAX_VALUE, 3);
        try (RegistrationCache cache = RegistrationCache.builder(small).build()) {
            for (int i = 0; i < 3; i++) {
                cache.acquire(BASE + i * 2 * PAGE, PAGE, Access.ALL).close();
            }
            long callsBefore = small.registerCalls;
            cache.acquire(BASE + 10 * PAGE, PAGE, Access.ALL).close();
            assertEquals(2, small.registerCalls - callsBefore, "failed once, evicted one, retried");
            assertEquals(1, cache.stats().evictionsDeviceLimit());
            assertEquals(3, small.liveRegions());
        }
    }

    @Test
    void cacheFull() {
        RegistrationCache cache = cache(RegistrationCache.builder(device).maxEntries(4));
        for (int i = 0; i < 4; i++) {
            cache.acquire(BASE + i * 2 * PAGE, PAGE, Access.ALL).close();
        }
        cache.acquire(BASE + 100 * PAGE, PAGE, Access.ALL).close(); // count + 1
        assertEquals(1, cache.stats().evictionsMaxEntries());
        long missesBefore = cache.stats().misses();
        cache.acquire(BASE + 100 * PAGE, PAGE, Access.ALL).close();
        assertEquals(missesBefore, cache.stats().misses(), "the new registration is still cached");
    }

    interface ThreadBody {
        void run(int thread) throws Exception;
    }

    static void onThreads(int threads, ThreadBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    body.run(thread);
                    return null;
                }));
            }
            for (Future<?> future : futures) {
                future.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
