package org.memreg.cli.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.memreg.cache.RegistrationCache;
import org.memreg.config.Settings;
import org.memreg.device.Device;
import org.memreg.device.MlockDevice;
import org.memreg.device.SimulatedNic;
import org.memreg.monitor.MemoryMonitor;

/**
 * Cost of a cache hit and of a miss, in nanoseconds per acquire + release, against the number of
 * distinct buffers and their size. A plot-quality sweep timed with {@link System#nanoTime()} over
 * many operations after a warm-up; the precise figures come from the JMH benchmarks.
 *
 * <ul>
 * <li><b>hit</b>: every buffer registered once, then acquired in random order. The device is the
 *     cost-free simulated NIC; a hit never calls the device, so which one does not matter.</li>
 * <li><b>miss</b>: the cache may keep one registration fewer than there are buffers, and the
 *     buffers are taken in a cycle, so every acquire misses, registers, and evicts the least
 *     recently used entry (the next one wanted). On the cost-free simulated NIC (what the cache
 *     and the page walk cost) and on mlock (plus the mlock and munlock system calls). A single
 *     buffer cannot miss this way, so it has no miss point.</li>
 * </ul>
 */
public final class HitSweep implements Sweep {
    private static final int HIT_BATCH = 256;
    private static final int MISS_BATCH = 8;

    private final BenchPlan plan;

    public HitSweep(BenchPlan plan) {
        this.plan = plan;
    }

    @Override
    public String name() {
        return "hit";
    }

    @Override
    public int points() {
        int points = 0;
        for (long size : plan.hitSizes()) {
            for (int buffers : plan.hitBuffers()) {
                if (fits(buffers, size)) {
                    points += buffers > 1 ? 3 : 1;
                }
            }
        }
        return points;
    }

    private boolean fits(int buffers, long size) {
        return GuardedBuffers.bytes(buffers, size) <= plan.maxMemory();
    }

    @Override
    public SweepResult run(Tracker tracker) {
        Table table = new Table("kind", "device", "buffers", "buffer_bytes", "operations", "ns_per_op", "hit_rate");
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        long nanos = plan.pointNanos() / 4;
        warmUp(nanos);
        for (long size : plan.hitSizes()) {
            for (int count : plan.hitBuffers()) {
                if (!fits(count, size)) {
                    notes.add(String.format("skipped %d x %s: %s of buffers is above --max-memory %s", count,
                            Settings.formatBytesShort(size),
                            Settings.formatBytesShort(GuardedBuffers.bytes(count, size)),
                            Settings.formatBytesShort(plan.maxMemory())));
                    continue;
                }
                try (GuardedBuffers buffers = new GuardedBuffers(count, size)) {
                    String sizeLabel = Settings.formatBytesShort(size);
                    String label = "hit, " + count + " x " + sizeLabel;
                    try (SimulatedNic nic = freeNic(buffers)) {
                        add(table, series, "hit", "simnic", "hit, " + sizeLabel, buffers,
                                AcquireLoop.measure(cache(nic, count), buffers, randomOrder(count), HIT_BATCH,
                                        nanos, tracker, label));
                    }
                    tracker.pointDone(label);
                    if (count > 1) {
                        label = "miss, sim NIC, " + count + " x " + sizeLabel;
                        try (SimulatedNic nic = freeNic(buffers)) {
                            add(table, series, "miss", "simnic", "miss sim NIC, " + sizeLabel, buffers,
                                    AcquireLoop.measure(cache(nic, count - 1), buffers, cycle(count),
                                            MISS_BATCH, nanos, tracker, label));
                        }
                        tracker.pointDone(label);
                        label = "miss, mlock, " + count + " x " + sizeLabel;
                        try (MlockDevice mlock = MlockDevice.builder().build()) {
                            add(table, series, "miss", "mlock", "miss mlock, " + sizeLabel, buffers,
                                    AcquireLoop.measure(cache(mlock, count - 1), buffers, cycle(count),
                                            MISS_BATCH, nanos, tracker, label));
                        }
                        tracker.pointDone(label);
                    }
                }
            }
        }
        notes.add("miss: the cache keeps buffers-1 registrations and the buffers are taken in a cycle,"
                + " so every acquire misses and evicts; 1 buffer has no miss point.");
        return new SweepResult(table, new Plot(Plot.Kind.LINES, "Cache hit and miss cost (acquire + release)",
                "distinct buffers", "ns per acquire + release", true, true, series), List.copyOf(notes));
    }

    /** Compiles the hit and miss paths before the first point, so that it is not measured cold. */
    private void warmUp(long nanos) {
        try (GuardedBuffers buffers = new GuardedBuffers(16, 4096); SimulatedNic nic = freeNic(buffers)) {
            AcquireLoop.measure(cache(nic, 16), buffers, randomOrder(16), HIT_BATCH, nanos, Tracker.NONE, "warm-up");
            AcquireLoop.measure(cache(nic, 15), buffers, cycle(16), MISS_BATCH, nanos, Tracker.NONE, "warm-up");
        }
    }

    private static void add(Table table, Map<String, List<double[]>> series, String kind, String device,
                            String line, GuardedBuffers buffers, AcquireLoop.Measured measured) {
        table.add(kind, device, buffers.count(), buffers.size(), measured.operations(), measured.nanosPerOperation(),
                measured.hitRate());
        series.computeIfAbsent(line, l -> new ArrayList<>())
                .add(new double[] {buffers.count(), measured.nanosPerOperation()});
    }

    private static RegistrationCache cache(Device device, int maxEntries) {
        return RegistrationCache.builder(device).maxEntries(maxEntries).monitor(MemoryMonitor.NONE)
                .statsName(null).build();
    }

    /** A cost-free NIC whose translation table holds every buffer. */
    private static SimulatedNic freeNic(GuardedBuffers buffers) {
        long pages = buffers.count() * (buffers.size() / 4096) + 1;
        return SimulatedNic.builder().free().maxPages(Math.max(pages, SimulatedNic.MAX_PAGES_DEFAULT))
                .maxRegions(Math.max(buffers.count() + 1L, SimulatedNic.MAX_REGIONS_DEFAULT)).build();
    }

    private int[] randomOrder(int count) {
        SplittableRandom random = new SplittableRandom(plan.seed());
        int[] order = new int[1 << 16];
        for (int i = 0; i < order.length; i++) {
            order[i] = random.nextInt(count);
        }
        return order;
    }

    private static int[] cycle(int count) {
        int[] order = new int[count];
        for (int i = 0; i < count; i++) {
            order[i] = i;
        }
        return order;
    }
}
