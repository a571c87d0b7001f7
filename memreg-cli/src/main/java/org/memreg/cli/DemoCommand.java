package org.memreg.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.memreg.cli.bench.Plot;
import org.memreg.cli.workload.ReuseWorkload;
import org.memreg.cli.workload.Strategy;
import org.memreg.cli.workload.WorkloadDevice;
import org.memreg.cli.workload.WorkloadResult;
import org.memreg.config.Settings;
import org.memreg.linux.NotAvailableException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code memreg demo}: the argument of seeds 000 and 002 in numbers from the real kernel. An
 * MPI-style sender on the simulated NIC under three strategies: register every time (correct,
 * slow), a naive cache (fast, and stale once buffers are freed and reallocated), memreg (fast and
 * correct).
 */
@Command(name = "demo", description = "Run an MPI-style sender on the simulated NIC under three registration"
        + " strategies and show throughput, hit rate, pinned memory and the stale transfers the NIC catches.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--sizes", split = ",", paramLabel = "SIZE",
            description = "Message sizes (default: ${DEFAULT-VALUE}).", defaultValue = "4k,64k,1m",
            converter = SizeConverter.class)
    long[] sizes;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "5",
            description = "Seconds per strategy and size (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--buffers", defaultValue = "32", description = "Distinct buffers reused (default: ${DEFAULT-VALUE}).")
    int buffers;

    @Option(names = "--realloc-one-in", paramLabel = "N", defaultValue = "50",
            description = "One message in N first frees its buffer and allocates a new one at the same"
                    + " address (default: ${DEFAULT-VALUE}; 0: never).")
    int reallocateOneIn;

    @Option(names = "--max-operations", paramLabel = "N", defaultValue = "" + Long.MAX_VALUE, hidden = true,
            description = "Stop each run after N messages (for quick checks).")
    long maxOperations;

    @Option(names = "--plot", paramLabel = "FILE", defaultValue = "memreg-demo.png",
            description = "Where to write the throughput plot (default: ${DEFAULT-VALUE}).")
    Path plot;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the buffer pattern (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (seconds <= 0 || buffers <= 0 || reallocateOneIn < 0 || sizes.length == 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--seconds and --buffers must be positive, --realloc-one-in at least 0");
        }
        out.printf("memreg demo: %d buffers, one message in %d reallocates its buffer, %.1f s per run%n",
                buffers, reallocateOneIn, seconds);
        out.println("The simulated NIC costs 5 us + 0.1 us/page to register and catches transfers through"
                + " registrations whose pages are gone.");
        out.flush();
        Map<Strategy, List<WorkloadResult>> results = new EnumMap<>(Strategy.class);
        Progress progress = new Progress(err, (long) Strategy.values().length * sizes.length);
        long durationNanos = (long) (seconds * 1e9);
        for (Strategy strategy : Strategy.values()) {
            for (long size : sizes) {
                String label = strategy.label() + ", " + Settings.formatBytesShort(size);
                try {
                    WorkloadResult result = new ReuseWorkload(size, buffers, reallocateOneIn, seed, WorkloadDevice.SIMULATED_NIC, "demo")
                            .run(strategy, durationNanos, maxOperations,
                                    elapsed -> progress.show((double) elapsed / durationNanos, label));
                    results.computeIfAbsent(strategy, s -> new ArrayList<>()).add(result);
                } catch (NotAvailableException e) {
                    err.println("memreg demo: skipping '" + strategy.label() + "': " + e.getMessage());
                }
                progress.unitDone(label);
            }
        }
        progress.finish();
        for (Map.Entry<Strategy, List<WorkloadResult>> entry : results.entrySet()) {
            printTable(out, entry.getKey(), entry.getValue());
        }
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        results.forEach((strategy, list) -> series.put(strategy.label(),
                list.stream().map(r -> new double[] {r.messageSize(), r.operationsPerSecond()}).toList()));
        Path written = (plot.toString().endsWith(".png") ? plot : Path.of(plot + ".png")).toAbsolutePath();
        Files.createDirectories(written.getParent());
        BenchCharts.write(written, new Plot(Plot.Kind.LINES, "Sender throughput by message size (simulated NIC)",
                "message size (bytes)", "messages per second", true, true, series));
        out.println("Plot written to " + written);
        out.flush();
        return 0;
    }

    private static void printTable(PrintWriter out, Strategy strategy, List<WorkloadResult> rows) {
        out.printf("%n== %s ==%n", strategy.label());
        out.printf("%10s %12s %9s %13s %14s %9s %8s%n", "size", "messages/s", "hit rate", "registrations",
                "peak pinned", "reallocs", "STALE");
        for (WorkloadResult r : rows) {
            out.printf("%10s %,12.0f %8.1f%% %,13d %14s %,9d %,8d%n", Settings.formatBytesShort(r.messageSize()),
                    r.operationsPerSecond(), 100 * r.hitRate(), r.registrations(),
                    Settings.formatBytesShort(r.peakPinnedBytes()), r.reallocations(), r.staleTransfers());
        }
    }
}
