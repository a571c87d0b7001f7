package org.memreg.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.memreg.cache.CacheStats;
import org.memreg.cache.RegistrationCache;
import org.memreg.cli.workload.ReuseWorkload;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MlockDevice;
import org.memreg.device.SimulatedNic;
import org.memreg.monitor.MemoryMonitor;

/**
 * Eviction under a budget smaller than the working set: buffers reused with the demo's skewed
 * pattern (about half the picks fall in the hottest eighth) through a cache limited to a fraction
 * of the working set, either by the cache's own {@code maxBytes} (on the cost-free simulated NIC)
 * or by an mlock pin budget (the device refuses, the cache evicts and retries). Reports the hit
 * rate and the evictions per acquire after a warm-up.
 */
public final class EvictionSweep implements Sweep {
    private static final int BATCH = 64;

    private final BenchPlan plan;

    public EvictionSweep(BenchPlan plan) {
        this.plan = plan;
    }

    @Override
    public String name() {
        return "eviction";
    }

    @Override
    public int points() {
        return 2 * plan.evictionFractions().size();
    }

    @Override
    public SweepResult run(Tracker tracker) {
        Table table = new Table("device", "limit", "budget_fraction", "budget_bytes", "working_set_bytes",
                "operations", "hit_rate", "evictions", "evictions_per_acquire", "ops_per_second");
        Map<String, List<double[]>> hitRates = new LinkedHashMap<>();
        Map<String, List<double[]>> evictionRates = new LinkedHashMap<>();
        try (GuardedBuffers buffers = new GuardedBuffers(plan.evictionBuffers(), plan.evictionBufferSize())) {
            long workingSet = (long) buffers.count() * buffers.size();
            for (String device : List.of("simnic", "mlock")) {
                String limit = device.equals("simnic") ? "maxBytes" : "pinBudget";
                String line = device.equals("simnic") ? "cache maxBytes, sim NIC" : "mlock pin budget";
                for (double fraction : plan.evictionFractions()) {
                    long budget = Math.max(buffers.size(), (long) (fraction * workingSet) / 4096 * 4096);
                    String label = line + ", " + fraction + " of the working set";
                    double[] m = measure(device, budget, buffers, tracker, label);
                    table.add(device, limit, fraction, budget, workingSet, (long) m[0], m[1], (long) m[2],
                            m[2] / m[0], m[3]);
                    hitRates.computeIfAbsent("hit rate %, " + line, l -> new ArrayList<>())
                            .add(new double[] {fraction, 100 * m[1]});
                    evictionRates.computeIfAbsent("evictions per 100 acquires, " + line, l -> new ArrayList<>())
                            .add(new double[] {fraction, 100 * m[2] / m[0]});
                    tracker.pointDone(label);
                }
            }
            Map<String, List<double[]>> series = new LinkedHashMap<>(hitRates);
            series.putAll(evictionRates);
            String title = String.format("Hit rate and evictions vs budget (%d x %s working set, skewed reuse)",
                    buffers.count(), Settings.formatBytesShort(buffers.size()));
            return new SweepResult(table, new Plot(Plot.Kind.LINES, title, "budget / working set",
                    "percent of acquires", false, false, series),
                    List.of("budget_fraction: the cache's maxBytes (simnic) or the mlock pin budget (mlock)"
                            + " over the working set; measured after a warm-up of 4 acquires per buffer."));
        }
    }

    /** Returns {operations, hit rate, evictions, operations per second} of the measured run. */
    private double[] measure(String device, long budget, GuardedBuffers buffers, Tracker tracker, String label) {
        try (Device dev = device.equals("simnic") ? SimulatedNic.builder().free().build()
                : MlockDevice.builder().pinBudget(budget).build();
             RegistrationCache cache = RegistrationCache.builder(dev).monitor(MemoryMonitor.NONE).statsName(null)
                     .maxBytes(device.equals("simnic") ? budget : Long.MAX_VALUE).build()) {
            SplittableRandom random = new SplittableRandom(plan.seed());
            for (int i = 0; i < 4 * buffers.count(); i++) {
                acquireRelease(cache, buffers, random);
            }
            CacheStats before = cache.stats();
            PointTimer timer = new PointTimer(tracker, label, plan.pointNanos());
            long operations = 0;
            do {
                for (int k = 0; k < BATCH; k++) {
                    acquireRelease(cache, buffers, random);
                }
                operations += BATCH;
            } while (timer.running());
            CacheStats after = cache.stats();
            long hits = after.hits() - before.hits();
            long misses = after.misses() - before.misses();
            return new double[] {operations, (double) hits / Math.max(1, hits + misses),
                    after.evictions() - before.evictions(), operations * 1e9 / timer.elapsed()};
        }
    }

    private static void acquireRelease(RegistrationCache cache, GuardedBuffers buffers, SplittableRandom random) {
        int i = ReuseWorkload.skewed(random, buffers.count());
        cache.acquire(buffers.address(i), buffers.size(), Access.LOCAL_WRITE).close();
    }
}
