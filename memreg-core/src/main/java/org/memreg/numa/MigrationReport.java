package org.memreg.numa;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a migration did, per source node, plus the ranges it did not touch because their
 * registrations were still held ({@link BusyRange}) and the pages that had nothing to move.
 *
 * @param nodes one outcome per node pages were found on, ascending
 * @param busy ranges reported busy and left where they were
 * @param notPresent pages not present (nothing to move)
 * @param zeroPage pages mapping the zero page (nothing to move)
 */
public record MigrationReport(List<NodeOutcome> nodes, List<BusyRange> busy, long notPresent, long zeroPage) {
    public MigrationReport {
        nodes = List.copyOf(nodes);
        busy = List.copyOf(busy);
    }

    /**
     * The pages found on one node.
     *
     * @param node the node the pages were on
     * @param target the node they were to go to ({@code node} itself when they were to stay)
     * @param moved pages now on the target
     * @param alreadyInPlace pages that were on the target already
     * @param failed pages that could not be moved
     * @param failures the failed pages by reason ({@code "EBUSY"}, {@code "ENOMEM"}, ...)
     */
    public record NodeOutcome(int node, int target, long moved, long alreadyInPlace, long failed,
            SortedMap<String, Long> failures) {
        public NodeOutcome {
            failures = Collections.unmodifiableSortedMap(new TreeMap<>(failures));
        }
    }

    /**
     * A range not migrated because {@code held} registrations over it were still in use when the
     * wait for their release timed out.
     */
    public record BusyRange(long address, long length, int held) {
        @Override
        public String toString() {
            return String.format("0x%x-0x%x busy (%d registration%s held)", address, address + length, held, held == 1 ? "" : "s");
        }
    }

    /** Pages moved, on all nodes. */
    public long moved() {
        return nodes.stream().mapToLong(NodeOutcome::moved).sum();
    }

    /** Pages that were in place already, on all nodes. */
    public long alreadyInPlace() {
        return nodes.stream().mapToLong(NodeOutcome::alreadyInPlace).sum();
    }

    /** Pages that could not be moved, on all nodes. */
    public long failed() {
        return nodes.stream().mapToLong(NodeOutcome::failed).sum();
    }

    /** The outcome for pages found on {@code node}, or null. */
    public NodeOutcome node(int node) {
        return nodes.stream().filter(o -> o.node() == node).findFirst().orElse(null);
    }

    /** A table: one line per node, then totals, busy ranges and pages with nothing to move. */
    public String format() {
        StringBuilder out = new StringBuilder(String.format("%-6s %-6s %10s %10s %10s  %s%n",
                "node", "to", "moved", "in place", "failed", "failures"));
        for (NodeOutcome o : nodes) {
            out.append(String.format("%-6d %-6d %10d %10d %10d  %s%n", o.node(), o.target(), o.moved(),
                    o.alreadyInPlace(), o.failed(), failures(o.failures())));
        }
        out.append(String.format("%-13s %10d %10d %10d%n", "total", moved(), alreadyInPlace(), failed()));
        out.append(String.format("not present %d, zero page %d%n", notPresent, zeroPage));
        for (BusyRange range : busy) {
            out.append(range).append(System.lineSeparator());
        }
        return out.toString();
    }

    private static String failures(Map<String, Long> failures) {
        StringBuilder out = new StringBuilder();
        failures.forEach((name, n) -> out.append(out.isEmpty() ? "" : ", ").append(name).append(' ').append(n));
        return out.toString();
    }
}
