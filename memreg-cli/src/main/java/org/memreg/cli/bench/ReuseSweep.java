package org.memreg.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.memreg.cli.workload.ReuseWorkload;
import org.memreg.cli.workload.Strategy;
import org.memreg.cli.workload.WorkloadDevice;
import org.memreg.cli.workload.WorkloadResult;
import org.memreg.config.Settings;
import org.memreg.monitor.MonitorUnavailableException;

/**
 * The demo's sender ({@link ReuseWorkload}) against message size: the three strategies on the
 * simulated NIC (with its cost model), then register-every-time and memreg on mlock
 * (through {@link WorkloadDevice#MLOCK}). Stale transfers are the sender's count
 * ({@link WorkloadResult#staleTransfers()}), which needs neither a NIC nor root.
 */
public final class ReuseSweep implements Sweep {
    private record Run(String device, Strategy strategy) {
        String line() {
            return strategy.label() + (device.equals("simnic") ? ", sim NIC" : ", mlock");
        }
    }

    private static final List<Run> RUNS = List.of(new Run("simnic", Strategy.REGISTER_EVERY_TIME),
            new Run("simnic", Strategy.NAIVE_CACHE), new Run("simnic", Strategy.MEMREG),
            new Run("mlock", Strategy.REGISTER_EVERY_TIME), new Run("mlock", Strategy.MEMREG));

    private final BenchPlan plan;

    public ReuseSweep(BenchPlan plan) {
        this.plan = plan;
    }

    @Override
    public String name() {
        return "reuse";
    }

    @Override
    public int points() {
        return RUNS.size() * plan.reuseSizes().size();
    }

    @Override
    public SweepResult run(Tracker tracker) {
        Table table = new Table("strategy", "device", "message_bytes", "operations", "seconds", "messages_per_second",
                "hit_rate", "registrations", "peak_pinned_bytes", "reallocations", "stale_transfers");
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        long nanos = plan.pointNanos();
        for (Run run : RUNS) {
            for (long size : plan.reuseSizes()) {
                String label = run.line() + ", " + Settings.formatBytesShort(size);
                try {
                    WorkloadResult r = measure(run, size, elapsed -> tracker.show((double) elapsed / nanos, label));
                    table.add(run.strategy().name().toLowerCase(Locale.ROOT), run.device(), size, r.operations(),
                            r.elapsedNanos() / 1e9, r.operationsPerSecond(), r.hitRate(), r.registrations(),
                            r.peakPinnedBytes(), r.reallocations(), r.staleTransfers());
                    series.computeIfAbsent(run.line(), l -> new ArrayList<>())
                            .add(new double[] {size, r.operationsPerSecond()});
                } catch (MonitorUnavailableException e) {
                    notes.add("skipped '" + label + "': " + e.getMessage());
                }
                tracker.pointDone(label);
            }
        }
        notes.add("simulated NIC: 5 us + 0.1 us/page per registration; mlock: a transfer is a CPU copy."
                + " stale_transfers: transfers through a registration made before their buffer was reallocated.");
        if (plan.reallocateOneIn() > 0) {
            notes.add("one message in " + plan.reallocateOneIn() + " frees its buffer and maps a new one"
                    + " at the same address first.");
        }
        return new SweepResult(table, new Plot(Plot.Kind.LINES, "Sender throughput by message size",
                "message size (bytes)", "messages per second", true, true, series), notes);
    }

    private WorkloadResult measure(Run run, long size, java.util.function.LongConsumer progress) {
        WorkloadDevice device = run.device().equals("simnic") ? WorkloadDevice.SIMULATED_NIC : WorkloadDevice.MLOCK;
        return new ReuseWorkload(size, plan.reuseBuffers(), plan.reallocateOneIn(), plan.seed(), device, null)
                .run(run.strategy(), plan.pointNanos(), Long.MAX_VALUE, progress);
    }
}
