package org.memreg.cli;

import java.io.PrintWriter;
import java.util.NoSuchElementException;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.memreg.linux.ProcessMaps;
import org.memreg.linux.SysConf;
import org.memreg.numa.MigrationPlan;
import org.memreg.numa.MigrationPlanner;
import org.memreg.numa.NodeSet;
import org.memreg.numa.ProcessMigrator;
import org.memreg.numa.SimulatedTopology;
import org.memreg.numa.SysfsTopology;
import org.memreg.numa.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code memreg migrate}: moves the pages of a whole process from one node set to another with
 * {@code migrate_pages(2)}, keeping their relative placement; prints the plan, then the pages
 * per node before and after.
 */
@Command(name = "migrate", description = {
        "Move a process's pages from the nodes of --from to those of --to, keeping their relative placement.",
        "With migrate_pages(2): the n-th lowest node of --from goes to the n-th lowest node of --to.",
        "Prints the plan, then the pages per node before and after. Another user's process needs root."})
final class MigrateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--pid", required = true, paramLabel = "PID", converter = PidConverter.class,
            description = "The process.")
    long pid;

    @Option(names = "--from", required = true, paramLabel = "NODES", converter = NodeListConverter.class,
            description = "Source nodes in ascending order, such as 0-3 or 0,2.")
    NodeSet from;

    @Option(names = "--to", required = true, paramLabel = "NODES", converter = NodeListConverter.class,
            description = "Destination nodes in ascending order, such as 2-5.")
    NodeSet to;

    @Option(names = "--dry-run", description = "Print the plan (and whether the nodes exist) and move nothing.")
    boolean dryRun;

    @Option(names = "--simulated", paramLabel = "N",
            description = "Check the nodes against a simulated topology of N nodes (with --dry-run: plans only).")
    Integer simulated;

    @Override
    public Integer call() {
        if (simulated != null && (simulated < 1 || simulated > NodeSet.MAX_NODE + 1)) {
            throw new ParameterException(spec.commandLine(), "--simulated must be 1.." + (NodeSet.MAX_NODE + 1) + ", got " + simulated);
        }
        if (simulated != null && !dryRun) {
            throw new ParameterException(spec.commandLine(),
                    "--simulated needs --dry-run: a simulated topology cannot move another process's pages");
        }
        Topology topology = simulated != null ? SimulatedTopology.of(simulated) : SysfsTopology.read();
        requireNodes(topology, from, "--from");
        requireNodes(topology, to, "--to");
        ProcessMaps.of(pid); // no such process, or not ours to read: fail before the plan is shown
        PrintWriter out = spec.commandLine().getOut();
        MigrationPlan plan = MigrationPlanner.plan(from, to);
        out.printf("plan: pid %d, nodes %s -> %s on %s (nodes %s)%n", pid, from, to, topology.description(), topology.nodeSet());
        out.printf("  remap  %s%n", plan.remap().entrySet().stream()
                .map(e -> e.getKey() + "->" + e.getValue()).collect(Collectors.joining(" ")));
        out.printf("  moves  %s%n", plan.moves().isEmpty() ? "none (every page is in place)"
                : plan.moves().stream().map(Object::toString).collect(Collectors.joining(", ")));
        if (plan.cycleBreaks() > 0) {
            out.printf("  %d ring(s) broken: some pages move twice%n", plan.cycleBreaks());
        }
        out.flush();
        if (dryRun) {
            out.println("dry run: nothing moved");
            out.flush();
            return 0;
        }
        ProcessMigrator.Result result = ProcessMigrator.migrate(topology, pid, from, to);
        out.printf("result: migrate_pages done, %d page(s) could not be moved (the kernel's count, after up to %d calls"
                + " per move)%n", result.notMoved(), ProcessMigrator.ATTEMPTS);
        NodeTable.print(out, SysConf.pageSize(), new String[] {"before", "after"}, result.before(), result.after());
        out.flush();
        return result.notMoved() == 0 ? Main.OK : Main.FAILED;
    }

    /** Nodes the topology lacks are a usage error, before anything is printed. */
    private void requireNodes(Topology topology, NodeSet nodes, String option) {
        try {
            topology.requireNodes(nodes, option);
        } catch (NoSuchElementException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage()
                    + (simulated == null ? "; plan for more nodes with --dry-run --simulated N" : ""));
        }
    }
}
