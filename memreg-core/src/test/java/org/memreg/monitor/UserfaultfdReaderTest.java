package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.testkit.Unprivileged;

/**
 * The userfaultfd reader reads on its own, whatever the Java side does: an unmapping thread is
 * woken when its event is read, not when it is delivered, so a delivery that stalls holds no
 * munmap; the gate stays pending meanwhile, and what the full ring could not keep comes to the
 * cache as "everything may have changed". The counters outlive the monitor, and a close under
 * threads that unmap and deliver breaks nothing (freeing the ring outside the drain lock fails it).
 */
@Unprivileged
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class UserfaultfdReaderTest {
    private static final long PAGE = SysConf.pageSize();
    /** More than the reader's ring holds (4,096). */
    private static final int UNMAPS = 5_000;

    @Test
    void aStalledDeliveryShouldHoldNoUnmapAndLoseNothingUnsaid() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicLong unmapEvents = new AtomicLong();
        AtomicLong suspects = new AtomicLong();
        UserfaultfdMonitor monitor = UserfaultfdMonitor.open(false);
        MonitorStats stats;
        try {
            monitor.start((kind, start, end, taken) -> {
                if (kind == MemoryEventKind.SUSPECT && start == 0 && end == Long.MAX_VALUE) {
                    suspects.incrementAndGet();
                } else if (kind == MemoryEventKind.UNMAP && end - start == PAGE) {
                    unmapEvents.incrementAndGet();
                }
                try {
                    release.await(); // a listener stuck, for now
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            for (int i = 0; i < UNMAPS; i++) { // each munmap returns once the reader has read its event
                long address = Mman.mapAnonymous(PAGE);
                assertTrue(monitor.watch(address, PAGE));
                Mman.munmap(address, PAGE);
            }
            assertTrue(monitor.gate().isPending(), "events read and not delivered keep the gate pending");
            assertTrue(monitor.stats().readerOverflows() > 0, "the ring filled while the delivery stalled");
            release.countDown();
            monitor.gate().awaitDelivery();
            assertFalse(monitor.gate().isPending());
            stats = monitor.stats();
            assertEquals(1, suspects.get(), "the lost ranges reported once, as everything");
            assertEquals(UNMAPS, unmapEvents.get() + stats.readerOverflows(),
                    "every unmap delivered or counted as lost: " + stats);
            assertEquals(unmapEvents.get(), stats.unmapEvents());
        } finally {
            monitor.close();
        }
        assertEquals(stats, monitor.stats(), "a closed monitor still answers for its counters");
    }

    /**
     * Threads unmap watched pages and deliver at the gate themselves while the monitor closes
     * under them: nothing may hang, throw or touch the freed ring; 20 rounds.
     */
    @Test
    void closingWhileThreadsUnmapAndDeliverShouldNeitherHangNorFail() throws Exception {
        for (int round = 0; round < 20; round++) {
            UserfaultfdMonitor monitor = UserfaultfdMonitor.open(false);
            AtomicLong delivered = new AtomicLong();
            monitor.start((kind, start, end, taken) -> delivered.incrementAndGet());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch running = new CountDownLatch(4);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 400; i++) {
                            long address = Mman.mapAnonymous(PAGE);
                            monitor.watch(address, PAGE); // false once closing
                            Mman.munmap(address, PAGE);
                            if (monitor.gate().isPending()) {
                                monitor.gate().awaitDelivery();
                            }
                            monitor.stats();
                            if (i == 20) {
                                running.countDown();
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            running.await();
            monitor.close();
            for (Thread thread : threads) {
                thread.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("round " + round, failure.get());
            }
            assertTrue(delivered.get() > 0, "events were delivered before the close");
            monitor.gate().awaitDelivery(); // returns at once: a closed gate holds nobody
        }
    }
}
