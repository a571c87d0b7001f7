package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.memreg.numa.MigrationPlan.Move;
import org.memreg.numa.PageMoveSimulator.Fate;

/**
 * The planner against a brute-force checker written without it: the expected placement from
 * plain lists, the moves simulated page by page, and whether a double-move-free order exists
 * decided by searching all orders.
 */
class MigrationPlannerTest {
    private static final int NODES = 8;

    @Test
    void shouldPlanEveryPairOfNodeSetsOverEightNodesAsTheBruteForceCheckerExpects() {
        int pairs = 0;
        for (long from = 1; from < 1 << NODES; from++) {
            for (long to = 1; to < 1 << NODES; to++) {
                MigrationPlan plan = MigrationPlanner.plan(NodeSet.ofMask(from), NodeSet.ofMask(to));
                int[] expected = expectedTargets(from, to);
                String where = NodeSet.ofMask(from) + " -> " + NodeSet.ofMask(to) + ": " + plan;
                for (int n = 0; n < NODES; n++) {
                    if ((from >>> n & 1) == 1) {
                        assertEquals(expected[n], plan.remap().get(n), where);
                    }
                    assertEquals(expected[n], plan.target(n), where);
                }
                assertEquals(Long.bitCount(from), plan.remap().size(), where);
                checkAgainstBruteForce(expected, plan, where);
                assertTrue(orderWithoutDoubleMovesExists(expected), where);
                assertEquals(0, plan.cycleBreaks(), where);
                pairs++;
            }
        }
        assertEquals(255 * 255, pairs);
    }

    @Test
    void shouldPlanEveryRemapOfSixNodesBreakingOneNodePerRing() {
        int[] f = new int[6];
        int withRings = 0;
        for (int code = 0; code < 46_656; code++) {
            Map<Integer, Integer> remap = new HashMap<>();
            for (int n = 0, c = code; n < f.length; n++, c /= f.length) {
                f[n] = c % f.length;
                remap.put(n, f[n]);
            }
            MigrationPlan plan = MigrationPlanner.plan(remap);
            String where = remap + ": " + plan;
            List<Integer> ringLows = ringLowestNodes(f);
            assertEquals(ringLows.size(), plan.cycleBreaks(), where);
            assertEquals(ringLows.isEmpty(), orderWithoutDoubleMovesExists(f), where);
            assertEquals(ringLows.isEmpty(), plan.exact(), where);
            if (ringLows.isEmpty()) {
                checkAgainstBruteForce(f, plan, where);
            } else {
                withRings++;
                checkRingsBrokenAtTheirLowestNode(f, ringLows, plan, where);
            }
        }
        assertTrue(withRings > 10_000, "rings among the remaps: " + withRings);
    }

    @Test
    void shouldAgreeWithTryingEveryPermutationOfMovesOnFourNodes() {
        int[] f = new int[4];
        for (int code = 0; code < 256; code++) {
            for (int n = 0, c = code; n < f.length; n++, c /= f.length) {
                f[n] = c % f.length;
            }
            List<Move> moves = new ArrayList<>();
            for (int n = 0; n < f.length; n++) {
                if (f[n] != n) {
                    moves.add(new Move(n, f[n]));
                }
            }
            boolean some = anyPermutationWithoutDoubleMoves(f, moves, 0);
            assertEquals(some, orderWithoutDoubleMovesExists(f), Arrays.toString(f));
            assertEquals(some, ringLowestNodes(f).isEmpty(), Arrays.toString(f));
        }
    }

    @Test
    void shouldEmptyNodesTwoAndThreeBeforeTheyReceiveForTheSeedsZeroThreeToTwoFive() {
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("2-5"));
        assertEquals(Map.of(0, 2, 1, 3, 2, 4, 3, 5), plan.remap());
        assertEquals(List.of(new Move(2, 4), new Move(0, 2), new Move(3, 5), new Move(1, 3)), plan.moves());
        assertEquals(0, plan.cycleBreaks());
        assertTrue(plan.moves().indexOf(new Move(2, 4)) < plan.moves().indexOf(new Move(0, 2)));
        assertTrue(plan.moves().indexOf(new Move(3, 5)) < plan.moves().indexOf(new Move(1, 3)));
        Map<String, Fate> fates = PageMoveSimulator.apply(
                Map.of("on0", 0, "on1", 1, "on2", 2, "on3", 3, "on6", 6), plan);
        assertEquals(new Fate(2, 1), fates.get("on0"));
        assertEquals(new Fate(3, 1), fates.get("on1"));
        assertEquals(new Fate(4, 1), fates.get("on2"));
        assertEquals(new Fate(5, 1), fates.get("on3"));
        assertEquals(new Fate(6, 0), fates.get("on6"));
    }

    @Test
    void shouldMoveNothingBetweenIdenticalSets() {
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("0-3"));
        assertEquals(List.of(), plan.moves());
        assertEquals(Map.of(0, 0, 1, 1, 2, 2, 3, 3), plan.remap());
        assertEquals(NodeSet.empty(), plan.sources());
        assertTrue(plan.exact());
    }

    @Test
    void shouldPairNodesInOrderBetweenDisjointSets() {
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.parse("4,6"));
        assertEquals(List.of(new Move(0, 4), new Move(1, 6)), plan.moves());
        assertEquals(NodeSet.parse("0-1"), plan.sources());
    }

    @Test
    void shouldShiftAWindowAsAChainFromItsFarEnd() {
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("1-4"));
        assertEquals(List.of(new Move(3, 4), new Move(2, 3), new Move(1, 2), new Move(0, 1)), plan.moves());
        assertEquals(0, plan.cycleBreaks());
    }

    @Test
    void shouldKeepPagesOnDestinationNodesWhenTheSetsDifferInSizeLikeTheKernel() {
        // The examples in do_migrate_pages' comment.
        assertEquals(NodeSet.parse("2-4"),
                MigrationPlanner.plan(NodeSet.parse("2-4"), NodeSet.parse("3-5")).sources());
        MigrationPlan shrink = MigrationPlanner.plan(NodeSet.parse("0-7"), NodeSet.parse("3-5"));
        assertEquals(NodeSet.parse("0-2,6-7"), shrink.sources());
        assertEquals(Map.of(0, 3, 1, 4, 2, 5, 3, 3, 4, 4, 5, 5, 6, 3, 7, 4), shrink.remap());
        // Several sources onto one destination (modulo).
        MigrationPlan onto = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("4"));
        assertEquals(List.of(new Move(0, 4), new Move(1, 4), new Move(2, 4), new Move(3, 4)), onto.moves());
        // Overlapping and smaller: pure modulo would swap 1 and 2; the kernel leaves them.
        MigrationPlan overlap = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("1-2"));
        assertEquals(List.of(new Move(0, 1), new Move(3, 2)), overlap.moves());
    }

    @Test
    void shouldUseOnlyTheFirstDestinationsWhenTheDestinationSetIsLarger() {
        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.parse("2-5"));
        assertEquals(Map.of(0, 2, 1, 3), plan.remap());
        assertEquals(List.of(new Move(0, 2), new Move(1, 3)), plan.moves());
        // Overlapping: node 1 is an allowed destination already, so like the kernel it stays.
        MigrationPlan overlap = MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.parse("1-5"));
        assertEquals(Map.of(0, 1, 1, 1), overlap.remap());
        assertEquals(List.of(new Move(0, 1)), overlap.moves());
    }

    @Test
    void shouldBreakAFullRotationOnceAndMoveOnlyItsLowestNodesPagesTwice() {
        MigrationPlan plan = MigrationPlanner.plan(Map.of(0, 1, 1, 2, 2, 3, 3, 0));
        assertEquals(List.of(new Move(0, 1), new Move(3, 0), new Move(2, 3), new Move(1, 2)), plan.moves());
        assertEquals(1, plan.cycleBreaks());
        assertFalse(plan.exact());
        Map<Integer, Fate> fates = PageMoveSimulator.apply(Map.of(0, 0, 1, 1, 2, 2, 3, 3), plan);
        assertEquals(Map.of(0, new Fate(2, 2), 1, new Fate(2, 1), 2, new Fate(3, 1), 3, new Fate(0, 1)), fates);

        MigrationPlan three = MigrationPlanner.plan(Map.of(0, 1, 1, 2, 2, 0));
        assertEquals(List.of(new Move(0, 1), new Move(2, 0), new Move(1, 2)), three.moves());
        assertEquals(1, three.cycleBreaks());
    }

    @Test
    void shouldBreakEachRingOfTheModuloRemapAndNothingLeadingIntoIt() {
        // Pure node_remap of 0-3 onto 1-2: 0->1, 1->2, 2->1, 3->2, a swap of 1 and 2 with tails.
        NodeSet from = NodeSet.parse("0-3");
        NodeSet to = NodeSet.parse("1-2");
        Map<Integer, Integer> modulo = new TreeMap<>();
        from.forEach(n -> modulo.put(n, MigrationPlanner.nodeRemap(n, from, to)));
        assertEquals(Map.of(0, 1, 1, 2, 2, 1, 3, 2), modulo);
        MigrationPlan plan = MigrationPlanner.plan(modulo);
        assertEquals(List.of(new Move(1, 2), new Move(0, 1), new Move(2, 1), new Move(3, 2)), plan.moves());
        assertEquals(1, plan.cycleBreaks());
        Map<Integer, Fate> fates = PageMoveSimulator.apply(Map.of(0, 0, 1, 1, 2, 2, 3, 3), plan);
        assertEquals(Map.of(0, new Fate(1, 1), 1, new Fate(1, 2), 2, new Fate(1, 1), 3, new Fate(2, 1)), fates);

        MigrationPlan twoSwaps = MigrationPlanner.plan(Map.of(0, 1, 1, 0, 5, 6, 6, 5));
        assertEquals(2, twoSwaps.cycleBreaks());
        assertEquals(List.of(new Move(0, 1), new Move(1, 0), new Move(5, 6), new Move(6, 5)), twoSwaps.moves());
    }

    @Test
    void shouldRemapLikeTheKernelsNodeRemap() {
        NodeSet from = NodeSet.parse("0,2,4,6");
        NodeSet to = NodeSet.parse("1,5,7");
        assertEquals(1, MigrationPlanner.nodeRemap(0, from, to));
        assertEquals(7, MigrationPlanner.nodeRemap(4, from, to));
        assertEquals(1, MigrationPlanner.nodeRemap(6, from, to));
        assertEquals(3, MigrationPlanner.nodeRemap(3, from, to));
        assertEquals(2, MigrationPlanner.nodeRemap(2, from, NodeSet.empty()));
    }

    @Test
    void shouldRejectEmptySetsAndBadRemapsWithClearMessages() {
        IllegalArgumentException noSource = assertThrows(IllegalArgumentException.class,
                () -> MigrationPlanner.plan(NodeSet.empty(), NodeSet.parse("1")));
        assertEquals("cannot plan a migration from \"\" to \"1\": the source node set is empty", noSource.getMessage());
        IllegalArgumentException noDest = assertThrows(IllegalArgumentException.class,
                () -> MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.empty()));
        assertEquals("cannot plan a migration from \"0-1\" to \"\": the destination node set is empty",
                noDest.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MigrationPlanner.plan(Map.of()));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> MigrationPlanner.plan(Map.of(0, 64)));
        assertEquals("bad remap entry 0->64: nodes must be in 0..63", bad.getMessage());
        Map<Integer, Integer> withNull = new HashMap<>();
        withNull.put(1, null);
        assertThrows(IllegalArgumentException.class, () -> MigrationPlanner.plan(withNull));
        assertThrows(IllegalArgumentException.class, () -> new Move(3, 3));
        assertThrows(IllegalArgumentException.class, () -> new Move(-1, 3));
    }

    @Test
    void shouldSimulateManyPagesPerNodeInPlacementOrderIgnoringEmptySources() {
        Map<Long, Integer> placement = new LinkedHashMap<>();
        placement.put(0x3000L, 1);
        placement.put(0x1000L, 0);
        placement.put(0x2000L, 0);
        placement.put(0x4000L, 9);
        Map<Long, Fate> fates = PageMoveSimulator.apply(placement,
                List.of(new Move(5, 0), new Move(0, 1), new Move(1, 2)));
        assertEquals(List.of(0x3000L, 0x1000L, 0x2000L, 0x4000L), List.copyOf(fates.keySet()));
        assertEquals(new Fate(2, 1), fates.get(0x3000L));
        assertEquals(new Fate(2, 2), fates.get(0x1000L));
        assertEquals(new Fate(2, 2), fates.get(0x2000L));
        assertEquals(new Fate(9, 0), fates.get(0x4000L));
    }

    // ---- the brute-force checker: nothing below calls the planner ----

    /** Where pages on each node 0..7 should end, from plain lists: i-th of from to (i mod |to|)-th of to. */
    private static int[] expectedTargets(long from, long to) {
        List<Integer> sources = new ArrayList<>();
        List<Integer> destinations = new ArrayList<>();
        for (int n = 0; n < NODES; n++) {
            if ((from >>> n & 1) == 1) {
                sources.add(n);
            }
            if ((to >>> n & 1) == 1) {
                destinations.add(n);
            }
        }
        int[] target = new int[NODES];
        for (int n = 0; n < NODES; n++) {
            target[n] = n;
        }
        for (int i = 0; i < sources.size(); i++) {
            int n = sources.get(i);
            boolean kept = sources.size() != destinations.size() && destinations.contains(n);
            target[n] = kept ? n : destinations.get(i % destinations.size());
        }
        return target;
    }

    /**
     * The plan moves exactly the nodes that must move, each once to its target, and one page per
     * node, moved as the kernel would, ends on its target having moved at most once.
     */
    private static void checkAgainstBruteForce(int[] target, MigrationPlan plan, String where) {
        Set<Move> required = new HashSet<>();
        for (int n = 0; n < target.length; n++) {
            if (target[n] != n) {
                required.add(new Move(n, target[n]));
            }
        }
        assertEquals(required, new HashSet<>(plan.moves()), where);
        assertEquals(required.size(), plan.moves().size(), where);
        int[][] pages = simulate(target.length, plan.moves());
        Map<Integer, Integer> placement = new HashMap<>();
        for (int page = 0; page < target.length; page++) {
            assertEquals(target[page], pages[0][page], where + " page from node " + page);
            assertTrue(pages[1][page] <= 1, where + " page from node " + page + " moved " + pages[1][page]);
            placement.put(page, page);
        }
        Map<Integer, Fate> fates = PageMoveSimulator.apply(placement, plan);
        for (int page = 0; page < target.length; page++) {
            assertEquals(new Fate(pages[0][page], pages[1][page]), fates.get(page), where);
        }
    }

    private static void checkRingsBrokenAtTheirLowestNode(int[] f, List<Integer> ringLows, MigrationPlan plan,
            String where) {
        int[][] pages = simulate(f.length, plan.moves());
        for (int page = 0; page < f.length; page++) {
            if (ringLows.contains(page)) {
                assertEquals(f[f[page]], pages[0][page], where + " page from ring node " + page);
                assertEquals(2, pages[1][page], where + " page from ring node " + page);
            } else {
                assertEquals(f[page], pages[0][page], where + " page from node " + page);
                assertTrue(pages[1][page] <= 1, where + " page from node " + page);
            }
        }
    }

    /** One page per node, page p starting on node p; returns {final node, times moved} per page. */
    private static int[][] simulate(int nodes, List<Move> moves) {
        int[] node = new int[nodes];
        int[] moved = new int[nodes];
        for (int p = 0; p < nodes; p++) {
            node[p] = p;
        }
        for (Move move : moves) {
            for (int p = 0; p < nodes; p++) {
                if (node[p] == move.from()) {
                    node[p] = move.to();
                    moved[p]++;
                }
            }
        }
        return new int[][] {node, moved};
    }

    /**
     * Whether some order of the required moves (n to target[n] for every n that moves) leaves
     * every page moved at most once: a search over all orders, simulating one page per node,
     * abandoning an order at its first double move, remembering the sets of moves already found
     * to lead nowhere (with no double move so far, which moves are done fixes where pages are).
     */
    private static boolean orderWithoutDoubleMovesExists(int[] target) {
        int all = 0;
        for (int n = 0; n < target.length; n++) {
            if (target[n] != n) {
                all |= 1 << n;
            }
        }
        int[] node = new int[target.length];
        for (int p = 0; p < node.length; p++) {
            node[p] = p;
        }
        return search(target, all, 0, node, new HashSet<>());
    }

    private static boolean search(int[] target, int all, int done, int[] node, Set<Integer> deadEnds) {
        if (done == all) {
            return true;
        }
        if (deadEnds.contains(done)) {
            return false;
        }
        for (int s = 0; s < target.length; s++) {
            if ((all >>> s & 1) == 0 || (done >>> s & 1) == 1) {
                continue;
            }
            int[] next = node.clone();
            boolean doubleMove = false;
            for (int p = 0; p < next.length; p++) {
                if (next[p] == s) {
                    doubleMove |= p != s;
                    next[p] = target[s];
                }
            }
            if (!doubleMove && search(target, all, done | 1 << s, next, deadEnds)) {
                return true;
            }
        }
        deadEnds.add(done);
        return false;
    }

    /** Tries literally every order of {@code moves} from index {@code k} on (permuting in place). */
    private static boolean anyPermutationWithoutDoubleMoves(int[] f, List<Move> moves, int k) {
        if (k == moves.size()) {
            int[][] pages = simulate(f.length, moves);
            for (int p = 0; p < f.length; p++) {
                if (pages[1][p] > 1 || pages[0][p] != f[p]) {
                    return false;
                }
            }
            return true;
        }
        for (int i = k; i < moves.size(); i++) {
            Collections.swap(moves, k, i);
            boolean found = anyPermutationWithoutDoubleMoves(f, moves, k + 1);
            Collections.swap(moves, k, i);
            if (found) {
                return true;
            }
        }
        return false;
    }

    /** The lowest node of each ring (cycle of two or more nodes) of the function f, ascending. */
    private static List<Integer> ringLowestNodes(int[] f) {
        List<Integer> lows = new ArrayList<>();
        for (int start = 0; start < f.length; start++) {
            if (f[start] == start) {
                continue;
            }
            int n = f[start];
            int steps = 1;
            int lowest = start;
            while (n != start && steps <= f.length) {
                lowest = Math.min(lowest, n);
                n = f[n];
                steps++;
            }
            if (n == start && lowest == start) {
                lows.add(start);
            }
        }
        return lows;
    }

    @Test
    void shouldEstimateTheCostOfWholeNodeMovesCountingARingTwice() {
        NodeSummary census = new NodeSummary(new TreeMap<>(Map.of(0, 100L, 1, 30L, 2, 5L, 3, 7L)), 9, 4, new TreeMap<>());
        MigrationPlan overlapping = MigrationPlanner.plan(NodeSet.parse("0-1"), NodeSet.parse("1-2"));
        assertEquals(new MigrationPlan.Cost(130, 130), overlapping.cost(census), "nodes 0 and 1 move once each, 2 and 3 stay");
        MigrationPlan swap = MigrationPlanner.plan(Map.of(0, 1, 1, 0));
        assertEquals(new MigrationPlan.Cost(130, 230), swap.cost(census), "the broken node's 100 pages move twice: " + swap);
        assertEquals(java.time.Duration.ofNanos(2_300_000), swap.cost(census).at(100_000), "230 page moves at 100,000 pages/s");
        assertEquals(new MigrationPlan.Cost(0, 0), MigrationPlanner.plan(NodeSet.of(0), NodeSet.of(0)).cost(census));
        assertThrows(IllegalArgumentException.class, () -> swap.cost(census).at(0));
    }

}
