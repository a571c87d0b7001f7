package org.memreg.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.cli.workload.Pages;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.monitor.MonitorUnavailableException;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * How long the cache takes to learn of an munmap, with the userfaultfd monitor: a fresh 64 KiB
 * mapping is registered (cost-free simulated NIC) and held; t0, munmap, spin until the
 * registration is invalid, t1; t1 - t0 goes into an HdrHistogram. The munmap call alone is timed
 * too, for that watched range and, interleaved in the same run, for an unwatched one of the same
 * size: the difference is what watching costs the thread that unmaps (it sleeps until the
 * monitor's reader has taken the event).
 */
public final class UnmapSweep implements Sweep {
    /** Bytes per mapping. */
    public static final long LENGTH = 64 * 1024;
    private static final long GIVE_UP_NANOS = 10_000_000_000L;

    private final BenchPlan plan;
    private final Histogram toInvalid = new Histogram(3);
    private final Histogram watched = new Histogram(3);
    private final Histogram unwatched = new Histogram(3);

    public UnmapSweep(BenchPlan plan) {
        this.plan = plan;
    }

    @Override
    public String name() {
        return "unmap";
    }

    @Override
    public int points() {
        return 1;
    }

    @Override
    public SweepResult run(Tracker tracker) {
        List<String> notes = new ArrayList<>();
        String label = "munmap -> invalidation, " + plan.unmapSamples() + " samples";
        int warmUp = Math.min(2000, plan.unmapSamples() / 10);
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = openCache(nic, notes)) {
            for (int s = -warmUp; s < plan.unmapSamples(); s++) {
                boolean record = s >= 0;
                if (cache != null) {
                    sampleWatched(cache, record);
                }
                sampleUnwatched(record);
                if ((s & 63) == 0) {
                    tracker.show((double) Math.max(0, s) / plan.unmapSamples(), label);
                }
            }
        }
        tracker.pointDone(label);
        Table table = new Table("series", "samples", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "max_ns");
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        add(table, series, "munmap_to_invalid", "munmap -> registration invalid", toInvalid);
        add(table, series, "munmap_watched", "munmap call, watched range", watched);
        add(table, series, "munmap_unwatched", "munmap call, unwatched range", unwatched);
        notes.add("64 KiB mappings; after a warm-up of " + warmUp + " samples per series.");
        return new SweepResult(table, new Plot(Plot.Kind.PERCENTILES, "munmap to invalidation latency (userfaultfd)",
                "percentile", "latency (us)", false, true, series), notes);
    }

    private static RegistrationCache openCache(SimulatedNic nic, List<String> notes) {
        try {
            return RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).statsName(null).build();
        } catch (MonitorUnavailableException e) {
            notes.add("no watched series: " + e.getMessage());
            return null;
        }
    }

    private void sampleWatched(RegistrationCache cache, boolean record) {
        long address = Mman.mapAnonymous(LENGTH);
        Pages.touch(address, LENGTH, 1);
        Registration registration = cache.acquire(address, LENGTH, Access.LOCAL_WRITE);
        try {
            long t0 = System.nanoTime();
            Mman.munmap(address, LENGTH);
            long unmapped = System.nanoTime();
            while (registration.isValid()) {
                if (System.nanoTime() - t0 > GIVE_UP_NANOS) {
                    throw new IllegalStateException("registration still valid 10 s after munmap: no event came");
                }
                Thread.onSpinWait();
            }
            long invalid = System.nanoTime();
            if (record) {
                toInvalid.recordValue(invalid - t0);
                watched.recordValue(unmapped - t0);
            }
        } finally {
            registration.close();
        }
    }

    private void sampleUnwatched(boolean record) {
        long address = Mman.mapAnonymous(LENGTH);
        Pages.touch(address, LENGTH, 1);
        long t0 = System.nanoTime();
        Mman.munmap(address, LENGTH);
        long unmapped = System.nanoTime();
        if (record) {
            unwatched.recordValue(unmapped - t0);
        }
    }

    private static void add(Table table, Map<String, List<double[]>> series, String id, String line, Histogram h) {
        if (h.getTotalCount() == 0) {
            return;
        }
        table.add(id, h.getTotalCount(), h.getMean(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue());
        // The last point is the max: placed at the percentile one sample short of 100 so it stays on the axis.
        double top = 100 * (1 - 1.0 / h.getTotalCount());
        List<double[]> points = new ArrayList<>();
        for (HistogramIterationValue v : h.percentiles(5)) {
            points.add(new double[] {Math.min(top, v.getPercentileLevelIteratedTo()),
                    v.getValueIteratedTo() / 1000.0});
        }
        series.put(line, points);
    }
}
