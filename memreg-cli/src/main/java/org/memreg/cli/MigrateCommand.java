package org.memreg.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.memreg.linux.SysConf;
import org.memreg.numa.MigrationPlan;
import org.memreg.numa.MigrationPlanner;
import org.memreg.numa.NodeSet;
import org.memreg.numa.ProcessMigrator;
import org.memreg.numa.SimulatedTopology;
import org.memreg.numa.SysfsTopology;
import org.memreg.numa.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code memreg migrate}: moves the pages of a whole process from one node set to another with
 * {@code migrate_pages(2)}, keeping their relative placement; prints the plan, then the pages
 * per node before and after.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true, description = {
        "Move a process's pages from the nodes of --from to those of --to (migrate_pages(2)),",
        "keeping their relative placement: the n-th node of --from goes to the n-th of --to.",
        "Prints the plan, then the pages per node before and after. Another user's process needs root."})
final class MigrateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--pid", required = true, paramLabel = "PID", description = "The process.")
    long pid;

    @Option(names = "--from", required = true, paramLabel = "NODES", converter = NodeSetConverter.class,
            description = "Source nodes, such as 0-3 or 0,2.")
    NodeSet from;

    @Option(names = "--to", required = true, paramLabel = "NODES", converter = NodeSetConverter.class,
            description = "Destination nodes, such as 2-5.")
    NodeSet to;

    @Option(names = "--dry-run", description = "Print the plan (and whether the nodes exist) and move nothing.")
    boolean dryRun;

    @Option(names = "--simulated", paramLabel = "N",
            description = "Check the nodes against a simulated topology of N nodes (with --dry-run: plans only).")
    Integer simulated;

    /** Parses node lists for picocli, so a bad one is a usage error. */
    static final class NodeSetConverter implements ITypeConverter<NodeSet> {
        @Override
        public NodeSet convert(String value) {
            try {
                NodeSet set = NodeSet.parse(value);
                if (set.isEmpty()) {
                    throw new TypeConversionException("empty node list");
                }
                return set;
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    @Override
    public Integer call() {
        if (pid <= 0) {
            throw new ParameterException(spec.commandLine(), "--pid must be positive, got " + pid);
        }
        if (simulated != null && (simulated < 1 || simulated > NodeSet.MAX_NODE + 1)) {
            throw new ParameterException(spec.commandLine(), "--simulated must be 1.." + (NodeSet.MAX_NODE + 1) + ", got " + simulated);
        }
        if (simulated != null && !dryRun) {
            throw new ParameterException(spec.commandLine(),
                    "--simulated needs --dry-run: a simulated topology cannot move another process's pages");
        }
        PrintWriter out = spec.commandLine().getOut();
        Topology topology = simulated != null ? SimulatedTopology.of(simulated) : SysfsTopology.read();
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
        topology.requireNodes(from, "--from"); // NoSuchElementException: "memreg: ..." and exit 1
        topology.requireNodes(to, "--to");
        if (dryRun) {
            out.println("dry run: nothing moved");
            out.flush();
            return 0;
        }
        ProcessMigrator.Result result = ProcessMigrator.migrate(topology, pid, from, to);
        out.printf("result: migrate_pages done, %d page(s) could not be moved (the kernel's count)%n", result.notMoved());
        NodeTable.print(out, SysConf.pageSize(), new String[] {"before", "after"}, result.before(), result.after());
        out.flush();
        return result.notMoved() == 0 ? 0 : 1;
    }
}
