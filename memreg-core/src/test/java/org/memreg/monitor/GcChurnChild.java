package org.memreg.monitor;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A JVM under churn with UCM's hooks installed (child of {@link HookJvmSafetyTest}): one thread
 * grows the heap and lets it go, calling {@code System.gc()} so the collector shrinks it and
 * uncommits through the hooked mmap/munmap/madvise; another starts and ends threads; meanwhile
 * caches on {@code hooks+userfaultfd} run {@link CrossThreadChurn} and must never hand out a
 * stale registration. Prints what happened; exits non-zero on any failure.
 */
final class GcChurnChild {
    private GcChurnChild() {
    }

    public static void main(String[] args) throws Exception {
        long seconds = Long.parseLong(args[0]);
        HookMonitor counter = HookMonitor.open(); // its handler runs for every unmap in the process
        long callsBefore = counter.handlerCalls();
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong maxCommitted = new AtomicLong();
        AtomicLong threadsStarted = new AtomicLong();
        Thread heap = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                List<byte[]> garbage = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    garbage.add(new byte[1 << 20]);
                }
                maxCommitted.accumulateAndGet(committedHeap(), Math::max);
                garbage.clear();
                System.gc(); // shrinks the heap: the collector uncommits
            }
        });
        Thread spawner = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                Thread child = Thread.ofPlatform().stackSize(1 << 20).start(() -> { });
                threadsStarted.incrementAndGet();
                try {
                    child.join();
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        long stale = 0;
        long acquires = 0;
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            CrossThreadChurn.Result result = CrossThreadChurn.run(
                    MemoryMonitors.open(MonitorMode.HOOKS_AND_USERFAULTFD), 2, 500, acquires);
            stale += result.staleHits() + result.staleTransfers() + result.refused();
            acquires += result.acquires();
        }
        done.set(true);
        heap.join();
        spawner.join();
        // G1 shrinks at this full collection; ZGC (JDK 25) uncommits gradually, starting a
        // ZUncommitDelay after the memory went unused, and stops if memory is used again: so
        // collect once and wait, without collecting again (a collection relocates into it).
        System.gc();
        long shrinkStart = System.nanoTime();
        long shrinkDeadline = shrinkStart + 60_000_000_000L;
        while (committedHeap() > maxCommitted.get() / 2 && System.nanoTime() < shrinkDeadline) {
            Thread.sleep(100);
        }
        System.out.println("shrinkMillis=" + (System.nanoTime() - shrinkStart) / 1_000_000);
        long gcs = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcs += Math.max(0, gc.getCollectionCount());
        }
        System.out.println("collector=" + ManagementFactory.getGarbageCollectorMXBeans().get(0).getName());
        System.out.println("collections=" + gcs);
        System.out.println("maxCommitted=" + maxCommitted.get());
        System.out.println("finalCommitted=" + committedHeap());
        System.out.println("threadsStarted=" + threadsStarted.get());
        System.out.println("acquires=" + acquires);
        System.out.println("stale=" + stale);
        System.out.println("handlerCalls=" + (counter.handlerCalls() - callsBefore));
        String check = HookMonitor.checkHooks();
        System.out.println("hooks=" + (check == null ? "working" : check));
        counter.close();
    }

    private static long committedHeap() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
    }
}
