package org.memreg.numa;

import java.util.BitSet;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MigratePages;

/**
 * Migrates a whole process with {@code migrate_pages(2)}: every page on a node of {@code from}
 * goes to its node in {@code to}, the kernel keeping the relative placement. The kernel says
 * only how many pages it could not move, so the result carries a census of the process before
 * and after ({@link ProcessPages}); the process keeps running, so the two are snapshots that
 * its own allocations and frees also change.
 *
 * <p>Real topologies only: a {@link SimulatedTopology} cannot move another process's pages.
 * A process that is not this one needs the same uid or CAP_SYS_NICE.
 */
public final class ProcessMigrator {
    /**
     * The outcome of one migration.
     *
     * @param pid the process
     * @param plan the plan the kernel follows (shown, not executed step by step)
     * @param before the census before the call
     * @param after the census after it
     * @param notMoved the pages the kernel reported it could not move
     */
    public record Result(long pid, MigrationPlan plan, NodeSummary before, NodeSummary after, long notMoved) {
    }

    private ProcessMigrator() {
    }

    /**
     * Moves the pages of process {@code pid} from the nodes of {@code from} to those of {@code to}.
     *
     * @throws java.util.NoSuchElementException naming the nodes that do not exist, before any call
     * @throws UnsupportedOperationException for a simulated topology
     * @throws IllegalArgumentException for an empty set or when there is no such process
     * @throws LinuxException when the kernel refuses (EPERM: not allowed)
     */
    public static Result migrate(Topology topology, long pid, NodeSet from, NodeSet to) {
        if (topology.simulated()) {
            throw new UnsupportedOperationException("migrate_pages moves real pages: a simulated topology"
                    + " cannot move another process's pages (use RangeMigrator on this process's memory)");
        }
        topology.requireNodes(from, "--from");
        topology.requireNodes(to, "--to");
        MigrationPlan plan = MigrationPlanner.plan(from, to);
        int id = Math.toIntExact(pid);
        PagePlacement placement = LinuxPagePlacement.of(topology, id);
        NodeSummary before = ProcessPages.census(placement);
        long result = MigratePages.migrate(id, BitSet.valueOf(new long[] {from.mask()}), BitSet.valueOf(new long[] {to.mask()}));
        if (result < 0) {
            int errno = (int) -result;
            throw new LinuxException("migrate_pages", errno, switch (errno) {
                case Errno.ESRCH -> "no process " + pid;
                case Errno.EPERM -> "not allowed to move the pages of process " + pid + " (needs the same uid or CAP_SYS_NICE)";
                case Errno.EINVAL -> "the kernel does not accept nodes " + from + " -> " + to + " (nodes online: "
                        + topology.nodeSet() + ")";
                default -> "pid " + pid + ", " + from + " -> " + to;
            });
        }
        return new Result(pid, plan, before, ProcessPages.census(placement), result);
    }
}
