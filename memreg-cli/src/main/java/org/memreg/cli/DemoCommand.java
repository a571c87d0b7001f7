package org.memreg.cli;

import java.io.IOException;
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
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;
import org.memreg.monitor.MonitorUnavailableException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code memreg demo}: the argument of seeds 000 and 002 in numbers from the real kernel. An
 * MPI-style sender on the simulated NIC under three strategies: register every time (correct,
 * slow), a naive cache (fast, and stale once buffers are freed and reallocated), memreg (fast and
 * correct).
 */
@Command(name = "demo", description = {"Run an MPI-style sender on the simulated NIC under three registration"
        + " strategies and show throughput, hit rate, pinned memory and stale transfers.",
        "Every option is checked before the run starts (about a minute with the defaults)."})
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

    @Option(names = "--buffers", paramLabel = "N", defaultValue = "32",
            description = "Distinct buffers reused (default: ${DEFAULT-VALUE}).")
    int buffers;

    @Option(names = "--max-memory", paramLabel = "SIZE", defaultValue = "4g", converter = SizeConverter.class,
            description = "Refuse sizes whose buffers would take more (default: ${DEFAULT-VALUE}).")
    long maxMemory;

    @Option(names = "--realloc-one-in", paramLabel = "N", defaultValue = "50",
            description = "One message in N first frees its buffer and allocates a new one at the same"
                    + " address (default: ${DEFAULT-VALUE}; 0: never).")
    int reallocateOneIn;

    @Option(names = "--max-operations", paramLabel = "N", defaultValue = "" + Long.MAX_VALUE, hidden = true,
            description = "Stop each run after N messages (for quick checks).")
    long maxOperations;

    @Option(names = "--plot", paramLabel = "FILE", defaultValue = "memreg-demo.png",
            description = "Where to write the plot of throughput and stale transfers; .png is added when"
                    + " missing (default: ${DEFAULT-VALUE}).")
    Path plot;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the buffer pattern (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        Path written = validate();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        out.printf("memreg demo: %d buffers, one message in %d reallocates its buffer, %.1f s per run%n",
                buffers, reallocateOneIn, seconds);
        out.println("The simulated NIC costs 5 us + 0.1 us/page to register and checks each transfer's physical pages.");
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
                } catch (MonitorUnavailableException e) {
                    err.println("memreg demo: skipping '" + strategy.label() + "': " + e.getMessage());
                }
                progress.unitDone(label);
            }
        }
        progress.finish();
        for (Map.Entry<Strategy, List<WorkloadResult>> entry : results.entrySet()) {
            printTable(out, entry.getKey(), entry.getValue());
        }
        out.println();
        out.println(Pagemap.pfnsVisible()
                ? "STALE: transfers through a registration made before their buffer was freed and reallocated"
                        + " (the sender knows when it did that).\nNIC saw: those the simulated NIC caught by"
                        + " physical frame (/proc/self/pagemap)."
                : "STALE: transfers through a registration made before their buffer was freed and reallocated,"
                        + " counted by the sender, which knows when it did that.\nNIC saw: n/a. Stale detection by"
                        + " the NIC needs physical frames, which /proc/self/pagemap shows only to root; run as root"
                        + " to see the NIC catch them too.");
        BenchCharts.write(written, plots(results));
        out.println("Plot written to " + written);
        out.flush();
        return Main.OK;
    }

    /** Checks every option before anything runs; returns the plot's path. */
    private Path validate() {
        if (!(seconds > 0) || seconds > 3600) { // NaN and infinity fail too
            throw usage("--seconds " + seconds + ": expected a number of seconds above 0 and at most 3600");
        }
        if (buffers < 1) {
            throw usage("--buffers " + buffers + ": expected at least 1");
        }
        if (reallocateOneIn < 0) {
            throw usage("--realloc-one-in " + reallocateOneIn + ": expected 0 (never) or more");
        }
        if (maxOperations < 1) {
            throw usage("--max-operations " + maxOperations + ": expected at least 1");
        }
        long page = SysConf.pageSize();
        for (long size : sizes) {
            // buffers, plus the message's destination and a ballast buffer while one is reallocated
            long limit = maxMemory / (buffers + 2L);
            long perBuffer = size > limit ? size : Math.ceilDiv(size, page) * page; // no overflow
            if (perBuffer > limit) {
                throw usage(String.format("--sizes %s with --buffers %d needs %d buffers of %s (yours, the message's"
                        + " destination and a spare), more than --max-memory %s (raise --max-memory, or use smaller"
                        + " --sizes or fewer --buffers)", Settings.formatBytesShort(size), buffers, buffers + 2L,
                        Settings.formatBytesShort(perBuffer), Settings.formatBytesShort(maxMemory)));
            }
        }
        if (Files.isDirectory(plot)) {
            throw usage("--plot " + plot + ": is a folder; expected a file name such as " + plot.resolve("demo.png"));
        }
        Path file = plot.toString().endsWith(".png") ? plot : Path.of(plot + ".png");
        Path absolute = file.toAbsolutePath().normalize();
        if (Files.isDirectory(absolute)) {
            throw usage("--plot " + plot + ": " + absolute + " is a folder; expected a file name");
        }
        try {
            OutputFolder.prepare(absolute.getParent());
        } catch (IOException | SecurityException e) {
            throw usage("--plot " + plot + ": cannot write there: " + FileErrors.reason(e));
        }
        return absolute;
    }

    /** Throughput and stale transfers against message size, side by side. */
    private static List<Plot> plots(Map<Strategy, List<WorkloadResult>> results) {
        Map<String, List<double[]>> throughput = new LinkedHashMap<>();
        Map<String, List<double[]>> stale = new LinkedHashMap<>();
        results.forEach((strategy, list) -> {
            throughput.put(strategy.label(), list.stream()
                    .map(r -> new double[] {r.messageSize(), r.operationsPerSecond()}).toList());
            stale.put(strategy.label(), list.stream()
                    .map(r -> new double[] {r.messageSize(), 100 * r.staleFraction()}).toList());
        });
        return List.of(new Plot(Plot.Kind.LINES, "Sender throughput by message size (simulated NIC)",
                        "message size (bytes)", "messages per second", true, true, throughput),
                new Plot(Plot.Kind.LINES, "Messages sent through a stale registration", "message size (bytes)",
                        "stale transfers (% of messages)", true, false, stale));
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private static void printTable(PrintWriter out, Strategy strategy, List<WorkloadResult> rows) {
        out.printf("%n== %s ==%n", strategy.label());
        out.printf("%10s %12s %9s %13s %14s %9s %8s %8s%n", "size", "messages/s", "hit rate", "registrations",
                "peak pinned", "reallocs", "STALE", "NIC saw");
        for (WorkloadResult r : rows) {
            out.printf("%10s %,12.0f %8.1f%% %,13d %14s %,9d %,8d %8s%n", Settings.formatBytesShort(r.messageSize()),
                    r.operationsPerSecond(), 100 * r.hitRate(), r.registrations(),
                    Settings.formatBytesShort(r.peakPinnedBytes()), r.reallocations(), r.staleTransfers(),
                    r.nicStaleTransfers() < 0 ? "n/a" : String.format("%,d", r.nicStaleTransfers()));
        }
    }
}
