package org.memreg.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.cli.workload.Pages;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.UnmappedMemoryException;
import org.memreg.linux.Mman;
import org.memreg.linux.Scheduling;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.monitor.MonitorMode;
import org.memreg.monitor.MonitorUnavailableException;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * The cross-thread window, for every monitor side by side: N threads each loop mmap 8 KiB,
 * touch, acquire, transfer through the simulated NIC (which counts stale transfers where it can
 * see frames), release, munmap. The kernel often gives one thread the address another has just
 * unmapped; a monitor that hears of the unmap only afterwards (userfaultfd) can let that thread
 * hit the old registration. Every buffer is new memory, so every hit is a stale one.
 */
public final class CrossThreadSweep implements Sweep {
    private static final long LENGTH = 8 * 1024;

    /** One row kind: a monitor, and whether it has a userfaultfd reader whose priority matters. */
    private record Row(String monitor, boolean realtimeReader, boolean hasReader, Supplier<MemoryMonitor> open) {}

    private static final List<Row> ROWS = List.of(
            new Row("none", false, false, () -> MemoryMonitor.NONE),
            new Row("userfaultfd", true, true, () -> UserfaultfdMonitor.open(true)),
            new Row("userfaultfd", false, true, () -> UserfaultfdMonitor.open(false)),
            new Row("hooks", false, false, () -> MemoryMonitors.open(MonitorMode.HOOKS)),
            new Row("hooks+userfaultfd", true, true, () -> MemoryMonitors.open(MonitorMode.HOOKS_AND_USERFAULTFD)),
            new Row("strict", true, true, () -> MemoryMonitors.open(MonitorMode.STRICT)),
            new Row("auto", true, true, () -> MemoryMonitors.open(MonitorMode.AUTO)));

    private final BenchPlan plan;

    public CrossThreadSweep(BenchPlan plan) {
        this.plan = plan;
    }

    @Override
    public String name() {
        return "crossthread";
    }

    @Override
    public int points() {
        return plan.crossThreads().size() * ROWS.size();
    }

    @Override
    public SweepResult run(Tracker tracker) {
        boolean realtimeAllowed = realtimeAllowed();
        Table table = new Table("monitor", "reader", "threads", "acquires", "stale_transfers", "stale_fraction", "hits",
                "refused");
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        for (Row row : ROWS) {
            String reader = !row.hasReader ? "-" : row.realtimeReader && realtimeAllowed ? "real-time" : "normal";
            String name = row.monitor + (row.hasReader ? " (" + reader + " reader)" : "");
            if (row.hasReader && row.realtimeReader && !realtimeAllowed && row.monitor.equals("userfaultfd")) {
                notes.add("userfaultfd's reader asked for real-time priority, was refused (no CAP_SYS_NICE): normal");
            }
            for (int threads : plan.crossThreads()) {
                String label = "cross-thread reuse, " + threads + " threads, " + name;
                int cycles = (plan.crossAcquires() + threads - 1) / threads;
                try (SimulatedNic nic = SimulatedNic.builder().free().build();
                     RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                             .monitor(row.open.get()).build()) {
                    long acquires = (long) threads * cycles;
                    Counts counts = run(cache, nic, threads, cycles);
                    if (row.monitor.equals("auto") && threads == plan.crossThreads().getFirst()) {
                        notes.add("auto chose " + cache.monitor().name() + " here");
                    }
                    table.add(row.monitor, reader, threads, acquires, counts.stale, (double) counts.stale / acquires,
                            cache.stats().hits(), counts.refused);
                    series.computeIfAbsent(name, k -> new ArrayList<>())
                            .add(new double[] {threads, 100.0 * cache.stats().hits() / acquires});
                } catch (MonitorUnavailableException e) {
                    notes.add("skipped '" + label + "': " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
                tracker.pointDone(label);
            }
        }
        notes.add("every hit here is stale: each buffer is new memory, so a hit can only be on an entry"
                + " of memory another thread has unmapped. The NIC counts stale transfers only where it sees"
                + " physical frames (root); as another user stale_transfers stays 0 and hits is the count.");
        notes.add("refused: acquires whose range overlapped a stale entry, merged into a registration of memory"
                + " that is gone (no monitor).");
        return new SweepResult(table, new Plot(Plot.Kind.LINES, "Stale hits when threads reuse each other's freed"
                + " addresses", "threads", "stale hits (% of acquires)", false, false, series), notes);
    }

    private record Counts(long stale, long refused) {}

    private static Counts run(RegistrationCache cache, SimulatedNic nic, int threads, int cycles)
            throws InterruptedException {
        AtomicLong stale = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            all.add(Thread.ofPlatform().start(() -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment wire = arena.allocate(64);
                    for (int i = 0; i < cycles; i++) {
                        long address = Mman.mapAnonymous(LENGTH);
                        Pages.touch(address, LENGTH, i);
                        try (Registration registration = cache.acquire(address, LENGTH, Access.ALL)) {
                            if (nic.read(registration.localKey(), address, wire) == SimulatedNic.Transfer.STALE) {
                                stale.incrementAndGet();
                            }
                        } catch (UnmappedMemoryException e) {
                            refused.incrementAndGet();
                        }
                        Mman.munmap(address, LENGTH);
                    }
                }
            }));
        }
        for (Thread thread : all) {
            thread.join();
        }
        return new Counts(stale.get(), refused.get());
    }

    /** Whether this process may run a thread at real-time priority, as the userfaultfd reader asks. */
    private static boolean realtimeAllowed() {
        AtomicInteger errno = new AtomicInteger(-1);
        Thread probe = Thread.ofPlatform().start(() -> errno.set(Scheduling.tryRealtime(1)));
        try {
            probe.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return errno.get() == 0;
    }
}
