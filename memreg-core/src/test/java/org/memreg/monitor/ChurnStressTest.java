package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Mman;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Several threads acquire, transfer through the simulated NIC and release, while another thread
 * keeps changing the memory of the same addresses (every {@link MemoryChange}). The application
 * is correct (it never frees a buffer during a transfer: a per-slot read/write lock), so any
 * stale transfer is the cache's fault. Then: no stale transfer, no hang, and exactly one
 * invalidation for every change of memory that was registered at the time.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@Unprivileged
class ChurnStressTest {
    static final int SLOTS = 16;
    static final long SLOT = 16 * 1024;
    static final long STRIDE = SLOT + 4096; // a gap page keeps slots from merging
    static final int WORKERS = 3;
    /** 100,000 (1,000,000 with memreg.test.long); memreg.test.churnOperations sets it (the emulated VM runs 20,000). */
    static final long OPERATIONS = Long.getLong("memreg.test.churnOperations",
            Boolean.getBoolean("memreg.test.long") ? 1_000_000 : 100_000);

    @Test
    void shouldNeverTransferThroughAStaleRegistration() throws Exception {
        long seed = TestSeeds.seed("ChurnStressTest");
        long region = Mman.mapAnonymous(SLOTS * STRIDE);
        ReentrantReadWriteLock[] slotLocks = new ReentrantReadWriteLock[SLOTS];
        boolean[] registeredSinceChange = new boolean[SLOTS]; // guarded by the slot's lock
        for (int i = 0; i < SLOTS; i++) {
            slotLocks[i] = new ReentrantReadWriteLock();
            MemoryChange.touch(slot(region, i), SLOT, 1L);
        }
        AtomicLong operations = new AtomicLong();
        AtomicLong watchedChanges = new AtomicLong();
        AtomicLong changes = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).build()) {
            Thread[] workers = new Thread[WORKERS];
            for (int w = 0; w < WORKERS; w++) {
                SplittableRandom random = new SplittableRandom(seed + w);
                workers[w] = Thread.ofPlatform().start(() -> {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment data = arena.allocate(SLOT);
                        while (operations.incrementAndGet() <= OPERATIONS) {
                            int i = random.nextInt(SLOTS);
                            // Whole slots: a registration splits the mapping where it ends, and
                            // mremap (one of the changes) refuses ranges that span mappings.
                            long address = slot(region, i);
                            long offset = random.nextInt((int) (SLOT / 4096)) * 4096L;
                            slotLocks[i].readLock().lock();
                            try (Registration reg = cache.acquire(address, SLOT, Access.ALL)) {
                                registeredSinceChange[i] = true; // benign race among readers: all write true
                                Transfer t = random.nextBoolean()
                                        ? nic.read(reg.localKey(), address + offset, data.asSlice(0, 4096))
                                        : nic.write(reg.remoteKey(), address + offset, data.asSlice(0, 4096));
                                assertEquals(Transfer.OK, t, "stale transfer at slot " + i);
                            } finally {
                                slotLocks[i].readLock().unlock();
                            }
                        }
                    }
                });
            }
            Thread changer = Thread.ofPlatform().start(() -> {
                SplittableRandom random = new SplittableRandom(seed - 1);
                MemoryChange[] kinds = MemoryChange.values();
                while (!done.get()) {
                    int i = random.nextInt(SLOTS);
                    slotLocks[i].writeLock().lock();
                    try {
                        if (registeredSinceChange[i]) {
                            watchedChanges.incrementAndGet();
                        }
                        registeredSinceChange[i] = false;
                        kinds[random.nextInt(kinds.length)].applyAndTouch(slot(region, i), SLOT, changes.get());
                        changes.incrementAndGet();
                    } finally {
                        slotLocks[i].writeLock().unlock();
                    }
                    Thread.onSpinWait();
                }
            });
            for (Thread worker : workers) {
                worker.join();
            }
            done.set(true);
            changer.join();
            CacheStats stats = cache.stats();
            MonitorStats monitor = cache.monitor().stats();
            System.out.printf("  %d operations, %d changes (%d of registered memory), %s%n  %s%n",
                    OPERATIONS, changes.get(), watchedChanges.get(), stats, monitor);
            assertEquals(0, nic.staleTransfers(), "no stale transfer");
            assertTrue(nic.transfers() >= OPERATIONS);
            assertTrue(changes.get() > 100, "the memory really churned: " + changes.get());
            // Every change of registered memory invalidated exactly its slot's one entry. (The monitor
            // sees more events than that: a moved range stays registered with the kernel, and a
            // second change may come before the first one's invalidation left the index.)
            assertEquals(watchedChanges.get(), stats.eventInvalidations(), "one invalidation per change");
            assertTrue(monitor.events() >= watchedChanges.get(), "an event for every change");
            assertEquals(0, stats.inUseBytes());
        } finally {
            Mman.munmap(region, SLOTS * STRIDE);
        }
    }

    static long slot(long region, int i) {
        return region + i * STRIDE;
    }
}
