package org.memreg.jmh;

import java.util.Arrays;
import java.util.BitSet;
import org.memreg.linux.MigratePages;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.numa.FirstTouch;
import org.memreg.numa.MigrationPlan;
import org.memreg.numa.MigrationPlanner;
import org.memreg.numa.NodeSet;
import org.memreg.numa.NodeSummary;
import org.memreg.numa.PagePlacement;
import org.memreg.numa.ProcessPages;
import org.memreg.numa.SysfsTopology;

/**
 * move_pages throughput between two real NUMA nodes, next to the planner's cost estimate (issue
 * 16). Needs nodes 0-2 (the VM of bin/vm-test):
 * <ol>
 * <li>PAGES pages first touched on node 0 are moved to node 1 and back with move_pages, ROUNDS
 *     times; pages per second of each move;</li>
 * <li>the planner's estimate for migrate_pages of this whole process 0-1 -> 1-2 (page moves from
 *     a census, {@link MigrationPlan#cost}, at the median rate of step 1) against the time the
 *     kernel took.</li>
 * </ol>
 * Usage: {@code java -cp ... org.memreg.jmh.MovePagesBench [PAGES [ROUNDS]]} (default 16384, 5).
 */
public final class MovePagesBench {
    private MovePagesBench() {
    }

    public static void main(String[] args) throws Exception {
        int pages = args.length > 0 ? Integer.parseInt(args[0]) : 16384;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        long pageSize = SysConf.pageSize();
        SysfsTopology topology = SysfsTopology.read();
        topology.requireNodes(NodeSet.parse("0-2"), "MovePagesBench");
        PagePlacement placement = topology.placement();
        long address = Mman.mapAnonymous(pages * pageSize);
        placement.touchFrom(0, address, pages * pageSize);
        long[] addresses = new long[pages];
        for (int i = 0; i < pages; i++) {
            addresses[i] = address + i * pageSize;
        }
        int[] status = new int[pages];
        double[] rates = new double[2 * rounds];
        System.out.printf("move_pages of %d pages (%d MiB) between nodes 0 and 1, %s%n", pages,
                pages * pageSize >> 20, System.getProperty("os.version"));
        for (int r = 0; r < 2 * rounds; r++) {
            int target = r % 2 == 0 ? 1 : 0;
            int[] targets = new int[pages];
            Arrays.fill(targets, target);
            long start = System.nanoTime();
            placement.move(addresses, targets, status, pages);
            long nanos = System.nanoTime() - start;
            long moved = Arrays.stream(status).filter(s -> s == target).count();
            rates[r] = moved / (nanos / 1e9);
            java.util.Map<String, Long> failed = new java.util.TreeMap<>();
            Arrays.stream(status).filter(s -> s != target)
                    .forEach(s -> failed.merge(org.memreg.linux.MovePages.describe(s), 1L, Long::sum));
            System.out.printf("  %d -> %d: %d pages in %.1f ms, %.0f pages/s%s%n", 1 - target, target, moved, nanos / 1e6,
                    rates[r], failed.isEmpty() ? "" : ", not moved: " + failed);
        }
        double[] sorted = rates.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        System.out.printf("median %.0f pages/s (%.0f MiB/s)%n", median, median * pageSize / (1 << 20));

        // The whole process, 0-1 -> 1-2, by the kernel's whole-node moves: estimate, then measure.
        Mman.munmap(address, pages * pageSize);
        address = Mman.mapAnonymous(pages * pageSize);
        FirstTouch.spread(placement, Mman.segment(address, pages * pageSize), 0, 1, 2);
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.parse("1-2"));
        NodeSummary census = ProcessPages.census(placement);
        MigrationPlan.Cost cost = plan.cost(census);
        long start = System.nanoTime();
        long notMoved = MigratePages.migrate((int) ProcessHandle.current().pid(), BitSet.valueOf(new long[] {0b011}),
                BitSet.valueOf(new long[] {0b110}));
        long nanos = System.nanoTime() - start;
        System.out.printf("migrate_pages of this JVM, %s: census %s%n", plan, census);
        System.out.printf("  planner's estimate: %d pages, %d page moves, %.1f ms at %.0f pages/s%n", cost.pages(),
                cost.pageMoves(), cost.at(median).toNanos() / 1e6, median);
        System.out.printf("  measured: %.1f ms (%d pages not moved, the kernel's count); after: %s%n", nanos / 1e6,
                notMoved, ProcessPages.census(placement));
        Mman.munmap(address, pages * pageSize);
    }
}
