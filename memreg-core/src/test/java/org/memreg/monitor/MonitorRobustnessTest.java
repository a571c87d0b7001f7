package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.testkit.Unprivileged;

/** No hang in the places where a userfaultfd monitor can deadlock, and nothing grows without bound. */
@Timeout(value = 2, unit = TimeUnit.MINUTES) // a hang fails the test
@Unprivileged
class MonitorRobustnessTest {
    static final long PAGE = 4096;

    @Test
    void shouldKeepTheInvalidationQueueAndHeapBoundedOver40000UnmapCycles() {
        int cycles = 40_000;
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).build()) {
            long heapBefore = usedHeapAfterGc();
            for (int i = 0; i < cycles; i++) {
                long address = Mman.mapAnonymous(PAGE);
                Mman.segment(address, 8).set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, i);
                cache.acquire(address, PAGE, Access.ALL).close();
                Mman.munmap(address, PAGE);
            }
            long heapGrowth = usedHeapAfterGc() - heapBefore;
            CacheStats stats = cache.stats();
            MonitorStats monitor = cache.monitor().stats();
            System.out.printf("%d cycles: heap growth %d KiB, %s%n  %s%n", cycles, heapGrowth >> 10, stats, monitor);
            assertEquals(cycles, stats.eventInvalidations(), "every unmap invalidated its registration");
            assertTrue(stats.maxQueuedInvalidations() <= 16, "queue stayed short: " + stats.maxQueuedInvalidations());
            assertEquals(0, stats.entries(), "nothing left in the index");
            assertEquals(0, stats.registeredBytes());
            assertEquals(0, monitor.watchedBytes(), "every watch was dropped");
            assertEquals(0, nic.regionsInTable());
            assertTrue(heapGrowth < 16 << 20, "heap bounded: grew " + heapGrowth + " bytes");
        }
    }

    @Test
    void shouldNotHangWhenTheHolderItselfUnmaps() {
        long lockedBefore = ProcStatus.vmLockedBytes();
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).monitor(UserfaultfdMonitor.open()).build()) {
            for (int i = 0; i < 200; i++) {
                long address = Mman.mapAnonymous(4 * PAGE);
                Registration held = cache.acquire(address, 4 * PAGE, Access.ALL);
                Mman.munmap(address, 4 * PAGE); // while holding it, on the holding thread
                assertFalse(held.isValid(), "invalidated under its holder");
                held.close();
            }
            assertEquals(0, cache.stats().registeredBytes());
        }
        assertEquals(lockedBefore, ProcStatus.vmLockedBytes());
    }

    @Test
    void shouldNotHangWhenManyThreadsUnmapAtOnce() throws Exception {
        int threads = 8;
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).build()) {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Thread> all = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                all.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < 500; i++) {
                            long address = Mman.mapAnonymous(2 * PAGE);
                            Registration reg = cache.acquire(address, 2 * PAGE, Access.ALL);
                            if (i % 2 == 0) {
                                reg.close();
                                Mman.munmap(address, 2 * PAGE);
                            } else {
                                Mman.munmap(address, 2 * PAGE);
                                reg.close();
                            }
                        }
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }));
            }
            for (Thread thread : all) {
                thread.join();
            }
            CacheStats stats = cache.stats();
            MonitorStats monitor = cache.monitor().stats();
            System.out.println(stats + "\n  " + monitor);
            // Another thread may map a just-unmapped address before the event is read and hit the
            // old entry (see UserfaultfdMonitor: not watched anew, so its own munmap raises no
            // event); the late event still removes it. In the end nothing is left behind.
            assertTrue(monitor.events() > 0 && stats.eventInvalidations() == stats.misses(), stats.toString());
            assertEquals(0, stats.entries());
            assertEquals(0, stats.registeredBytes());
            assertEquals(0, monitor.watchedBytes());
            assertEquals(0, nic.regionsInTable());
        }
    }

    @Test
    void shouldNotHangWhenUnmappingWhileEvictionRuns() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).maxEntries(8)
                     .monitor(UserfaultfdMonitor.open()).build()) {
            long pool = Mman.mapAnonymous(256 * 2 * PAGE);
            Thread evicting = Thread.ofPlatform().start(() -> {
                for (int i = 0; !done.get(); i++) { // 128 buffers through 8 entries: every miss evicts
                    cache.acquire(pool + (i % 128) * 2 * PAGE, PAGE, Access.ALL).close();
                }
            });
            Thread unmapping = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 2000; i++) {
                    long address = Mman.mapAnonymous(PAGE);
                    cache.acquire(address, PAGE, Access.ALL).close();
                    Mman.munmap(address, PAGE);
                }
            });
            unmapping.join();
            done.set(true);
            evicting.join();
            CacheStats stats = cache.stats();
            assertTrue(stats.evictionsMaxEntries() > 1000, stats.toString());
            assertTrue(stats.entries() <= 8);
            Mman.munmap(pool, 256 * 2 * PAGE);
        }
    }

    @Test
    void shouldReleaseBlockedUnmapsWhenClosed() throws Exception {
        SimulatedNic nic = SimulatedNic.builder().free().build();
        RegistrationCache cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).build();
        long address = Mman.mapAnonymous(PAGE);
        cache.acquire(address, PAGE, Access.ALL).close();
        cache.close(); // the reader stops; the watch goes with the userfaultfd
        Thread unmapper = Thread.ofPlatform().start(() -> Mman.munmap(address, PAGE));
        unmapper.join(TimeUnit.SECONDS.toMillis(10));
        assertFalse(unmapper.isAlive(), "munmap after close does not wait for a reader");
        assertEquals(0, nic.regionsInTable());
        nic.close();
    }

    /**
     * The delivery thread may free memory while the monitor closes: its own arena and thread
     * state on its way out, or a deregistration in the listener. glibc may answer such a free by
     * trimming pages of a malloc arena that a watch still covers, and that free then sleeps
     * until the reader has read its REMOVE event; close() waits for the delivery thread, so the
     * reader must still be reading by then. The munmap below stands in, deterministically, for
     * such a trim (seen once under load: a hung JVM, the delivery thread in madvise).
     */
    @Test
    void shouldNotHangWhenTheDeliveryThreadFreesWatchedMemoryWhileTheMonitorCloses() throws Exception {
        UserfaultfdMonitor monitor = UserfaultfdMonitor.open();
        long first = Mman.mapAnonymous(PAGE);
        long second = Mman.mapAnonymous(PAGE);
        assertTrue(monitor.watch(first, PAGE) && monitor.watch(second, PAGE));
        CountDownLatch delivering = new CountDownLatch(1);
        CountDownLatch closeStarted = new CountDownLatch(1);
        AtomicReference<Thread> closer = new AtomicReference<>();
        AtomicBoolean freed = new AtomicBoolean();
        monitor.start((kind, start, end, taken) -> {
            if (start != first) {
                return;
            }
            delivering.countDown();
            try {
                closeStarted.await();
                for (int i = 0; i < 10_000 && closer.get().getState() != Thread.State.WAITING; i++) {
                    Thread.sleep(1); // until close() waits for this thread
                }
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            Mman.munmap(second, PAGE);
            freed.set(true);
        });
        Mman.munmap(first, PAGE);
        assertTrue(delivering.await(30, TimeUnit.SECONDS), "the unmap was delivered");
        Thread closing = Thread.ofPlatform().daemon().unstarted(monitor::close);
        closer.set(closing);
        closing.start();
        closeStarted.countDown();
        closing.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(closing.isAlive(), "close() hung: the delivery thread's free waits for a reader that has stopped");
        assertTrue(freed.get(), "the delivery thread's unmap returned");
    }

    private static long usedHeapAfterGc() {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }
}
