package org.memreg.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.cli.workload.Pages;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.linux.NotAvailableException;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * The window the userfaultfd monitor cannot close: the kernel frees an address before it reports
 * the unmap, so a thread that maps the same address while another is still unmapping it can hit
 * the old registration (see {@code UserfaultfdMonitor}). N threads each loop: mmap 8 KiB, touch,
 * acquire, transfer through the simulated NIC (which counts stale transfers), release, munmap;
 * with the monitor's reader at real-time priority and at normal priority.
 */
public final class CrossThreadSweep implements Sweep {
    private static final long LENGTH = 8 * 1024;
    private static final boolean[] REALTIME = {true, false};

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
        return plan.crossThreads().size() * REALTIME.length;
    }

    @Override
    public SweepResult run(Tracker tracker) {
        int cycles = Math.max(10, plan.unmapSamples() / 10);
        Table table = new Table("reader", "threads", "acquires", "stale_transfers", "stale_fraction", "hits");
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        for (boolean realtime : REALTIME) {
            String reader = realtime ? "real-time" : "normal";
            for (int threads : plan.crossThreads()) {
                String label = "cross-thread reuse, " + threads + " threads, " + reader + " reader";
                try (SimulatedNic nic = SimulatedNic.builder().free().build();
                     RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                             .monitor(UserfaultfdMonitor.open(realtime)).build()) {
                    long acquires = (long) threads * cycles;
                    long stale = run(cache, nic, threads, cycles);
                    table.add(reader, threads, acquires, stale, (double) stale / acquires, cache.stats().hits());
                    series.computeIfAbsent(reader + " reader", k -> new ArrayList<>())
                            .add(new double[] {threads, 100.0 * stale / acquires});
                } catch (NotAvailableException e) {
                    notes.add("skipped '" + label + "': " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
                tracker.pointDone(label);
            }
        }
        notes.add("every hit here is stale: each buffer is new memory, so a hit can only be on an entry"
                + " of memory another thread is still unmapping.");
        return new SweepResult(table, new Plot(Plot.Kind.LINES, "Stale transfers when threads reuse each other's"
                + " freed addresses", "threads", "stale transfers (% of acquires)", false, false, series), notes);
    }

    private static long run(RegistrationCache cache, SimulatedNic nic, int threads, int cycles)
            throws InterruptedException {
        AtomicLong stale = new AtomicLong();
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
                        }
                        Mman.munmap(address, LENGTH);
                    }
                }
            }));
        }
        for (Thread thread : all) {
            thread.join();
        }
        return stale.get();
    }
}
