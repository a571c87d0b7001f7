package org.memreg.numa;

import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Which node each source node's pages go to, and the order of whole-node moves that gets them
 * there. Made by {@link MigrationPlanner}.
 *
 * <p>A {@link Move} means what Linux's {@code migrate_to_node} does: every page of the process
 * that is on {@code from} <em>when the move runs</em> goes to {@code to}, including pages an
 * earlier move brought there. So the order matters: a move onto a node that still has to be
 * emptied would carry the arrivals along a second time.
 *
 * <p>Guarantees, checked exhaustively by the tests:
 * <ul>
 *   <li>Every node {@code n} with {@code target(n) != n} is the source of exactly one move, to
 *       {@code target(n)}; no other moves exist.
 *   <li>If {@code cycleBreaks == 0} (always so for plans made from two {@link NodeSet}s), no move
 *       lands on a node that a later move empties: applying the moves in order, a page on node
 *       {@code n} moves at most once and ends on {@code target(n)}.
 *   <li>If {@code cycleBreaks == k > 0}, the remap has {@code k} rings (such as the rotation
 *       0→1→2→0), which whole-node moves cannot realize. Each ring is broken at one node
 *       {@code c}, moved first: its pages then ride along with {@code target(c)}'s own move, so
 *       they move twice and end on {@code target(target(c))} (back on {@code c} for a swap).
 *       Every other page moves at most once and ends on its target. Linux's
 *       {@code do_migrate_pages} accepts the same.
 * </ul>
 *
 * @param remap for each node whose pages the plan covers, the node they should end on (itself
 *     when they stay); pages on nodes that are not keys stay where they are
 * @param moves the whole-node moves, in the order to run them
 * @param cycleBreaks how many rings the order had to break, each costing one node's pages a
 *     second move and their placement
 */
public record MigrationPlan(SortedMap<Integer, Integer> remap, List<Move> moves, int cycleBreaks) {
    /**
     * Moves every page now on node {@code from} to node {@code to}.
     *
     * @throws IllegalArgumentException if the nodes are equal or outside {@code 0..63}
     */
    public record Move(int from, int to) {
        public Move {
            if (from == to || from < 0 || to < 0 || from > NodeSet.MAX_NODE || to > NodeSet.MAX_NODE) {
                throw new IllegalArgumentException("bad move " + from + "->" + to + ": nodes must differ and be in 0.." + NodeSet.MAX_NODE);
            }
        }

        @Override
        public String toString() {
            return from + "->" + to;
        }
    }

    public MigrationPlan {
        remap = Collections.unmodifiableSortedMap(new TreeMap<>(remap));
        moves = List.copyOf(moves);
        if (cycleBreaks < 0) {
            throw new IllegalArgumentException("cycleBreaks " + cycleBreaks);
        }
    }

    /** Where pages now on {@code node} should end: {@code remap().get(node)}, or {@code node} itself. */
    public int target(int node) {
        return remap.getOrDefault(node, node);
    }

    /**
     * The planner's cost estimate for the whole-node moves of this plan (as {@code migrate_pages}
     * makes them) over pages counted per node as in {@code census}.
     *
     * @param pages pages that move at least once
     * @param pageMoves page migrations: a page on a ring's broken node moves twice
     */
    public record Cost(long pages, long pageMoves) {
        /** The time the moves take at {@code pagesPerSecond} page migrations per second. */
        public Duration at(double pagesPerSecond) {
            if (!(pagesPerSecond > 0)) {
                throw new IllegalArgumentException("pages per second must be positive: " + pagesPerSecond);
            }
            return Duration.ofNanos(Math.round(pageMoves / pagesPerSecond * 1e9));
        }
    }

    /** What these moves cost for a process whose pages are counted per node in {@code census}. */
    public Cost cost(NodeSummary census) {
        Map<Integer, Integer> onePagePerNode = new TreeMap<>();
        census.perNode().keySet().forEach(node -> onePagePerNode.put(node, node));
        long pages = 0;
        long pageMoves = 0;
        for (Map.Entry<Integer, PageMoveSimulator.Fate> e : PageMoveSimulator.apply(onePagePerNode, moves).entrySet()) {
            long count = census.onNode(e.getKey());
            pages += e.getValue().moves() > 0 ? count : 0;
            pageMoves += count * e.getValue().moves();
        }
        return new Cost(pages, pageMoves);
    }

    /** True when the moves realize the remap exactly, each page moving at most once. */
    public boolean exact() {
        return cycleBreaks == 0;
    }

    /** The nodes whose pages move, that is the sources of {@link #moves()}. */
    public NodeSet sources() {
        long mask = 0;
        for (Move move : moves) {
            mask |= 1L << move.from();
        }
        return NodeSet.ofMask(mask);
    }

    /** The plan as {@code "moves [3->5, 2->4, 1->3, 0->2], 0 cycle breaks, remap {0->2, 1->3, 2->4, 3->5}"}. */
    @Override
    public String toString() {
        return "moves " + moves + ", " + cycleBreaks + " cycle breaks, remap " + remapString(remap);
    }

    private static String remapString(Map<Integer, Integer> remap) {
        StringBuilder out = new StringBuilder("{");
        remap.forEach((from, to) -> out.append(out.length() > 1 ? ", " : "").append(from).append("->").append(to));
        return out.append('}').toString();
    }
}
