package org.memreg.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.memreg.cache.RegistrationCacheBuilder;
import org.memreg.monitor.MonitorSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code memreg info}: the page a user reads when something does not work. One row per
 * capability memreg may use (pinning and its bound, each userfaultfd mode, the memory monitor, UCX, NUMA, huge pages,
 * PSI, real-time priority, the counters directory): whether it works here, and why not. To add a
 * row, add a probe to {@link Capabilities} and a line to {@link #ROWS}; a probe that throws shows
 * as "no" with the reason, so one broken probe never hides the others.
 */
@Command(name = "info", description = {"Show what memreg can use here: each capability, whether it works, and why not.",
        "Pinning and its bound, userfaultfd modes, the memory monitor, UCX, NUMA nodes, huge pages, PSI, counters directory."})
final class InfoCommand implements Callable<Integer> {
    /** A row: its name and the probe that fills it. */
    record Row(String name, Supplier<Capability> probe) {}

    static final List<Row> ROWS = List.of(
            new Row("page size", Capabilities::pageSize),
            new Row("pin bound", Capabilities::pinBound),
            new Row("RLIMIT_MEMLOCK", Capabilities::memlockLimit),
            new Row("locked now (VmLck)", Capabilities::lockedNow),
            new Row("mlock", Capabilities::mlock),
            new Row("userfaultfd (user mode only)", () -> Capabilities.userfaultfd(true)),
            new Row("userfaultfd (all faults)", () -> Capabilities.userfaultfd(false)),
            new Row("memory monitor", Capabilities::memoryMonitor),
            new Row("physical frames", Capabilities::physicalFrames),
            new Row("real-time priority", Capabilities::realtime),
            new Row("UCX", Capabilities::ucx),
            new Row("RDMA devices", Capabilities::rdma),
            new Row("NUMA nodes", Capabilities::numa),
            new Row("huge pages", Capabilities::hugePages),
            new Row("memory pressure (PSI)", Capabilities::pressure),
            new Row("counters directory", Capabilities::countersDirectory));

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("memreg info: " + Capabilities.identity());
        out.println();
        int width = ROWS.stream().mapToInt(r -> r.name().length()).max().orElse(10) + 2;
        out.printf("%-" + width + "s%-7s%s%n", "capability", "works", "details");
        for (Row row : ROWS) {
            Capability capability = probe(row);
            out.printf("%-" + width + "s%-7s%s%n", row.name(), capability.works().text(), capability.detail());
        }
        out.println();
        out.println("memory monitor modes (" + RegistrationCacheBuilder.MONITOR_PROP_NAME + "; README: the guarantee table)");
        for (MonitorSupport mode : Capabilities.monitorSupport()) {
            out.printf("  %-18s %s%s%n", mode.mode().label(), mode.available() ? "works" : "unavailable",
                    mode.detail().isEmpty() ? "" : ": " + mode.detail());
        }
        out.flush();
        return Main.OK;
    }

    private static Capability probe(Row row) {
        try {
            return row.probe().get();
        } catch (RuntimeException | LinkageError e) {
            return Capability.no("could not tell: " + e);
        }
    }
}
