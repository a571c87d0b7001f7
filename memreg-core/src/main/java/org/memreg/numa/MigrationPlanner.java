package org.memreg.numa;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Plans the migration of a process's pages from one set of NUMA nodes to another so that the
 * pages keep their placement relative to each other: the pages of the n-th source node go to the
 * n-th destination node. This is what {@code migrate_pages(2)} does in the kernel
 * ({@code do_migrate_pages} in {@code mm/mempolicy.c}); the plan spells it out so that it can be
 * shown, simulated and run one node pair at a time.
 *
 * <h2>The remap</h2>
 * Node {@code s} of {@code from}, at position {@code i} in ascending order, maps to the node of
 * {@code to} at position {@code i mod |to|} ({@link #nodeRemap}, the kernel's {@code node_remap}).
 * Like the kernel, when the sets differ in size a node of {@code from} that is also in {@code to}
 * keeps its pages: relative placement cannot be kept anyway, and those pages are already on an
 * allowed node. So {@code [2,3,4] -> [3,4,5]} moves every node, while {@code [0-7] -> [3,4,5]}
 * moves only 0, 1, 2, 6 and 7.
 *
 * <h2>The order</h2>
 * Moves are whole-node moves (see {@link MigrationPlan}), so a node must be emptied before it
 * receives, or the arrivals move twice. As in {@code do_migrate_pages}, each step takes, in
 * ascending order, the first pending source whose target is not itself a pending source; nodes
 * that keep their pages never block anything. If every pending source's target is pending, the
 * sources contain a ring; the planner breaks it at the ring's lowest node and counts the break
 * (the kernel takes the last pending pair instead, which may be a node leading into the ring and
 * cost more double moves).
 *
 * <p>Plans made from two node sets never need a break. With sets of equal size the remap is an
 * order-preserving bijection from {@code from} onto {@code to}; on a ring its lowest node
 * {@code m} would have a predecessor {@code p} with {@code remap(p) = m < remap(m)}, so
 * {@code p < m}, a contradiction. With sets of different size every moving node lies outside
 * {@code to} and every target inside, so no move lands on a node that moves. Rings come only from
 * an explicit remap given to {@link #plan(Map)}.
 */
public final class MigrationPlanner {
    private MigrationPlanner() {}

    /**
     * Plans the migration of pages on the nodes of {@code from} to the nodes of {@code to}, as
     * described above. The sets may overlap or be equal (no moves).
     *
     * @throws IllegalArgumentException if either set is empty
     */
    public static MigrationPlan plan(NodeSet from, NodeSet to) {
        if (from.isEmpty() || to.isEmpty()) {
            throw new IllegalArgumentException("cannot plan a migration from \"" + from + "\" to \"" + to
                    + "\": the " + (from.isEmpty() ? "source" : "destination") + " node set is empty");
        }
        boolean keepDestinations = from.size() != to.size();
        Map<Integer, Integer> remap = new TreeMap<>();
        for (int node : from) {
            remap.put(node, keepDestinations && to.contains(node) ? node : nodeRemap(node, from, to));
        }
        return order(remap);
    }

    /**
     * Plans the whole-node moves that take the pages of each key of {@code remap} to its value,
     * for any mapping, including ones with rings such as the rotation {@code {0=1, 1=2, 2=0}} that
     * node sets cannot express; see {@link MigrationPlan} for what a ring costs.
     *
     * @throws IllegalArgumentException if the remap is empty or a node is null or outside
     *     {@code 0..}{@value NodeSet#MAX_NODE}
     */
    public static MigrationPlan plan(Map<Integer, Integer> remap) {
        if (remap.isEmpty()) {
            throw new IllegalArgumentException("cannot plan a migration: the remap is empty");
        }
        remap.forEach((from, to) -> {
            if (from == null || to == null || from < 0 || to < 0 || from > NodeSet.MAX_NODE || to > NodeSet.MAX_NODE) {
                throw new IllegalArgumentException(
                        "bad remap entry " + from + "->" + to + ": nodes must be in 0.." + NodeSet.MAX_NODE);
            }
        });
        return order(remap);
    }

    /**
     * The kernel's {@code node_remap}: if {@code node} is the i-th node of {@code from}, the
     * {@code (i mod |to|)}-th node of {@code to}; otherwise (or if {@code to} is empty) {@code node}.
     */
    public static int nodeRemap(int node, NodeSet from, NodeSet to) {
        int index = from.indexOf(node);
        return index < 0 || to.isEmpty() ? node : to.nth(index % to.size());
    }

    private static MigrationPlan order(Map<Integer, Integer> remap) {
        int[] target = new int[NodeSet.MAX_NODE + 1];
        long pending = 0;
        for (Map.Entry<Integer, Integer> entry : remap.entrySet()) {
            target[entry.getKey()] = entry.getValue();
            if (!entry.getKey().equals(entry.getValue())) {
                pending |= 1L << entry.getKey();
            }
        }
        List<MigrationPlan.Move> moves = new ArrayList<>(Long.bitCount(pending));
        int cycleBreaks = 0;
        while (pending != 0) {
            int source = -1;
            for (long rest = pending; rest != 0 && source < 0; rest &= rest - 1) {
                int s = Long.numberOfTrailingZeros(rest);
                if ((pending & (1L << target[s])) == 0) {
                    source = s;
                }
            }
            if (source < 0) {
                source = lowestOnRing(target, Long.numberOfTrailingZeros(pending));
                cycleBreaks++;
            }
            moves.add(new MigrationPlan.Move(source, target[source]));
            pending &= ~(1L << source);
        }
        return new MigrationPlan(new TreeMap<>(remap), moves, cycleBreaks);
    }

    /**
     * The lowest node on the ring reached from {@code start}. Only called when every pending
     * node's target is pending, so following targets from a pending node stays pending and,
     * the nodes being finite, reaches a ring.
     */
    private static int lowestOnRing(int[] target, int start) {
        long seen = 0;
        int node = start;
        while ((seen & (1L << node)) == 0) {
            seen |= 1L << node;
            node = target[node];
        }
        int lowest = node;
        for (int n = target[node]; n != node; n = target[n]) {
            lowest = Math.min(lowest, n);
        }
        return lowest;
    }
}
