package org.memreg.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.memreg.cli.bench.BenchPlan;
import org.memreg.cli.bench.CrossThreadSweep;
import org.memreg.cli.bench.EvictionSweep;
import org.memreg.cli.bench.HitSweep;
import org.memreg.cli.bench.ReuseSweep;
import org.memreg.cli.bench.Sweep;
import org.memreg.cli.bench.SweepResult;
import org.memreg.cli.bench.Tracker;
import org.memreg.cli.bench.UnmapSweep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code memreg bench}: the sweeps behind the plots of the README, each written as
 * {@code DIR/<sweep>.csv} and {@code DIR/<sweep>.png}, with a table per sweep on stdout and a
 * progress bar on stderr.
 */
@Command(name = "bench", description = {
        "Sweep the registration cache and write each sweep as DIR/<sweep>.csv and DIR/<sweep>.png.",
        "Sweeps:",
        "  hit       hit and miss cost vs distinct buffers and buffer size",
        "  reuse     sender throughput vs message size, per strategy and device",
        "  eviction  hit rate and evictions vs a budget below the working set",
        "  unmap     munmap -> invalidation latency (userfaultfd monitor)",
        "  crossthread  stale hits when threads reuse each other's freed addresses, per memory monitor"})
final class BenchCommand implements Callable<Integer> {
    /** The sweeps, in the order they run. */
    enum SweepName { hit, reuse, eviction, unmap, crossthread }

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "memreg-bench",
            description = "Folder for the CSV and PNG files, created if needed (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "Tiny sweeps that finish in seconds (for tests and a first look).")
    boolean quick;

    @Option(names = "--only", split = ",", paramLabel = "SWEEP",
            description = "Run only these sweeps: ${COMPLETION-CANDIDATES} (default: all).")
    List<SweepName> only;

    @Option(names = "--seconds", paramLabel = "S", description = "Measuring time per point of the reuse and"
            + " eviction sweeps; hit points get a quarter (default: " + BenchPlan.STANDARD_SECONDS + ", with --quick "
            + BenchPlan.QUICK_SECONDS + ").")
    Double seconds;

    @Option(names = "--samples", paramLabel = "N",
            description = "munmaps per series in the unmap sweep (default: 20000, with --quick 300).")
    Integer samples;

    @Option(names = "--max-memory", paramLabel = "SIZE", defaultValue = "4g", converter = SizeConverter.class,
            description = "Skip hit-sweep points whose buffers take more (default: ${DEFAULT-VALUE}).")
    long maxMemory;

    @Option(names = "--realloc-one-in", paramLabel = "N", defaultValue = "50",
            description = "In the reuse sweep one message in N first frees its buffer and maps a new one at the"
                    + " same address (default: ${DEFAULT-VALUE}; 0: never).")
    int reallocateOneIn;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the random patterns (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        BenchPlan plan = plan();
        Path dir = outputFolder();
        List<Sweep> sweeps = sweeps(plan);
        stdout.printf("memreg bench: %s; %.2f s per point; files in %s%n",
                String.join(", ", sweeps.stream().map(Sweep::name).toList()), plan.pointNanos() / 1e9, dir);
        stdout.flush();
        Progress progress = new Progress(spec.commandLine().getErr(), sweeps.stream().mapToInt(Sweep::points).sum());
        Tracker tracker = new Tracker() {
            @Override
            public void show(double fraction, String label) {
                progress.show(fraction, label);
            }

            @Override
            public void pointDone(String label) {
                progress.unitDone(label);
            }
        };
        Map<Sweep, SweepResult> results = new LinkedHashMap<>();
        List<Path> written = new ArrayList<>();
        for (Sweep sweep : sweeps) {
            SweepResult result = sweep.run(tracker);
            results.put(sweep, result);
            written.addAll(write(dir, sweep.name(), result));
        }
        progress.finish();
        results.forEach((sweep, result) -> {
            stdout.printf("%n== %s ==%n", sweep.name());
            result.table().print(stdout);
            result.notes().forEach(note -> stdout.println("  " + note));
        });
        stdout.println();
        written.forEach(file -> stdout.println("Wrote " + file));
        stdout.flush();
        return 0;
    }

    private BenchPlan plan() {
        double s = seconds != null ? seconds : quick ? BenchPlan.QUICK_SECONDS : BenchPlan.STANDARD_SECONDS;
        if (!(s > 0) || Double.isInfinite(s) || s > 3600) {
            throw usage("--seconds must be a positive number of seconds up to 3600: " + s);
        }
        if (samples != null && samples <= 0) {
            throw usage("--samples must be positive: " + samples);
        }
        if (reallocateOneIn < 0) {
            throw usage("--realloc-one-in must be 0 or more: " + reallocateOneIn);
        }
        BenchPlan plan = quick ? BenchPlan.quick(s, maxMemory, reallocateOneIn, seed)
                : BenchPlan.standard(s, maxMemory, reallocateOneIn, seed);
        return samples == null ? plan : plan.withUnmapSamples(samples);
    }

    /** Creates the folder and checks that a file can be written there. */
    private Path outputFolder() {
        try {
            return OutputFolder.prepare(out);
        } catch (IOException | SecurityException e) {
            throw usage("--out " + out + ": cannot write there: " + FileErrors.reason(e));
        }
    }

    private List<Sweep> sweeps(BenchPlan plan) {
        EnumSet<SweepName> chosen = only == null || only.isEmpty() ? EnumSet.allOf(SweepName.class)
                : EnumSet.copyOf(only);
        List<Sweep> sweeps = new ArrayList<>();
        for (SweepName name : chosen) {
            sweeps.add(switch (name) {
                case hit -> new HitSweep(plan);
                case reuse -> new ReuseSweep(plan);
                case eviction -> new EvictionSweep(plan);
                case unmap -> new UnmapSweep(plan);
                case crossthread -> new CrossThreadSweep(plan);
            });
        }
        return sweeps;
    }

    private static List<Path> write(Path dir, String name, SweepResult result) throws IOException {
        Path csv = dir.resolve(name + ".csv");
        Path png = dir.resolve(name + ".png");
        result.table().writeCsv(csv);
        BenchCharts.write(png, result.plot());
        return List.of(csv, png);
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
