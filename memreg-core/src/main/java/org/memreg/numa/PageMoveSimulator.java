package org.memreg.numa;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies whole-node moves to a model of where pages are, as the kernel would: each
 * {@link MigrationPlan.Move} takes every page on its source node at that moment, including pages
 * earlier moves brought there. Used to check plans and to back simulated topologies.
 *
 * <p>Pure and stateless; thread safe.
 */
public final class PageMoveSimulator {
    private PageMoveSimulator() {}

    /** Where a page ended and how many moves carried it (0 if it never moved). */
    public record Fate(int node, int moves) {}

    /**
     * Runs {@code moves} in order over pages placed as in {@code placement} (page → node; the
     * page key can be anything with equals and hashCode, such as an address).
     *
     * @return each page's fate, in the iteration order of {@code placement}
     * @throws NullPointerException if a page's node is null
     */
    public static <P> Map<P, Fate> apply(Map<P, Integer> placement, List<MigrationPlan.Move> moves) {
        Map<Integer, List<P>> pagesOnNode = new HashMap<>();
        Map<P, int[]> moveCounts = new HashMap<>();
        placement.forEach((page, node) -> {
            pagesOnNode.computeIfAbsent(node.intValue(), n -> new ArrayList<>()).add(page);
            moveCounts.put(page, new int[1]);
        });
        for (MigrationPlan.Move move : moves) {
            List<P> leaving = pagesOnNode.remove(move.from());
            if (leaving == null) {
                continue;
            }
            for (P page : leaving) {
                moveCounts.get(page)[0]++;
            }
            pagesOnNode.computeIfAbsent(move.to(), n -> new ArrayList<>()).addAll(leaving);
        }
        Map<P, Integer> finalNode = new HashMap<>();
        pagesOnNode.forEach((node, pages) -> pages.forEach(page -> finalNode.put(page, node)));
        Map<P, Fate> fates = new LinkedHashMap<>();
        for (P page : placement.keySet()) {
            fates.put(page, new Fate(finalNode.get(page), moveCounts.get(page)[0]));
        }
        return fates;
    }

    /** Shorthand for {@code apply(placement, plan.moves())}. */
    public static <P> Map<P, Fate> apply(Map<P, Integer> placement, MigrationPlan plan) {
        return apply(placement, plan.moves());
    }
}
