package org.memreg.numa;

import java.util.BitSet;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MigratePages;

/**
 * Migrates a whole process with {@code migrate_pages(2)}: every page on a node of {@code from}
 * goes to its node in {@code to}, keeping the relative placement. The plan's whole-node moves
 * ({@link MigrationPlanner}, the kernel's own order) run one call each, and a move whose call left
 * pages behind is asked again, up to {@link #ATTEMPTS} times: the kernel gives up on pages that
 * are busy for a moment (locked, or held by another reference): moving a live JVM in one call
 * left 15 and 41 pages behind in two of four runs of {@code LiveMigrationTest} here. Asking
 * again is safe for one move, whose source has not received anything yet, and not for the
 * whole remap at once, which would carry the pages that already arrived on a source node a
 * second time. The kernel
 * says only how many pages it could not move, so the result carries a census of the process
 * before and after ({@link ProcessPages}); the process keeps running, so the two are snapshots
 * that its own allocations and frees also change.
 *
 * <p>Real topologies only: a {@link SimulatedTopology} cannot move another process's pages.
 * A process that is not this one needs the same uid or CAP_SYS_NICE.
 */
public final class ProcessMigrator {
    /** Calls per move, at most, while pages are left behind. */
    public static final int ATTEMPTS = 5;

    /**
     * The outcome of one migration.
     *
     * @param pid the process
     * @param plan the plan, run move by move
     * @param before the census before the call
     * @param after the census after it
     * @param notMoved the pages the kernel reported it could not move, summed over the moves' last calls
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
        long notMoved = 0;
        if (plan.moves().isEmpty()) { // nothing to move: the kernel still says whether the process is there and ours
            notMoved = call(topology, id, from.mask(), to.mask(), from, to);
        }
        for (MigrationPlan.Move move : plan.moves()) {
            long left;
            int attempt = 0;
            do {
                left = call(topology, id, 1L << move.from(), 1L << move.to(), from, to);
            } while (left > 0 && ++attempt < ATTEMPTS && pause(attempt));
            notMoved += left;
        }
        return new Result(pid, plan, before, ProcessPages.census(placement), notMoved);
    }

    /** One {@code migrate_pages} call: the pages it could not move; the kernel's refusal as an exception. */
    private static long call(Topology topology, int pid, long fromMask, long toMask, NodeSet from, NodeSet to) {
        long result = MigratePages.migrate(pid, BitSet.valueOf(new long[] {fromMask}), BitSet.valueOf(new long[] {toMask}));
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
        return result;
    }

    /** Waits 2^(attempt-1) ms before asking again; false (asking no more) when interrupted, the flag kept. */
    private static boolean pause(int attempt) {
        try {
            Thread.sleep(1L << (attempt - 1));
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
