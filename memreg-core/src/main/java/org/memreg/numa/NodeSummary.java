package org.memreg.numa;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.memreg.linux.MovePages;

/**
 * Page counts like {@code numastat -p}: present pages per node, and the pages that are on no
 * node — not present (never touched or swapped out), the shared zero page (only ever read),
 * unmapped (no mapping covers the address), and other statuses (errno name to count).
 *
 * @param perNode node id to present pages, ascending
 * @param notPresent pages with status {@link MovePages#NOT_PRESENT}
 * @param zeroPage pages with status {@link MovePages#ZERO_PAGE} inside a mapping
 * @param unmapped pages of a queried range that no mapping of the process covered
 * @param other other negative statuses by errno name
 */
public record NodeSummary(SortedMap<Integer, Long> perNode, long notPresent, long zeroPage, long unmapped,
        SortedMap<String, Long> other) {
    public NodeSummary {
        perNode = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(perNode));
        other = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(other));
    }

    /** Present pages on {@code node}. */
    public long onNode(int node) {
        return perNode.getOrDefault(node, 0L);
    }

    /** Present pages on any node. */
    public long present() {
        return perNode.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Every page counted. */
    public long total() {
        return present() + notPresent + zeroPage + unmapped + other.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The sum of this and {@code that}. */
    public NodeSummary plus(NodeSummary that) {
        Counter counter = new Counter();
        counter.add(this);
        counter.add(that);
        return counter.summary();
    }

    /** Accumulates statuses; not thread safe. */
    public static final class Counter {
        private final TreeMap<Integer, Long> perNode = new TreeMap<>();
        private final TreeMap<String, Long> other = new TreeMap<>();
        private long notPresent;
        private long zeroPage;
        private long unmapped;

        /** Counts one page of status {@code status}. */
        public void add(int status) {
            if (status >= 0) {
                perNode.merge(status, 1L, Long::sum);
            } else if (status == MovePages.NOT_PRESENT) {
                notPresent++;
            } else if (status == MovePages.ZERO_PAGE) {
                zeroPage++;
            } else {
                other.merge(MovePages.describe(status), 1L, Long::sum);
            }
        }

        /** Adds the counts of {@code summary}. */
        public void add(NodeSummary summary) {
            summary.perNode().forEach((node, n) -> perNode.merge(node, n, Long::sum));
            summary.other().forEach((name, n) -> other.merge(name, n, Long::sum));
            notPresent += summary.notPresent();
            zeroPage += summary.zeroPage();
            unmapped += summary.unmapped();
        }

        /** Counts {@code pages} pages that no mapping covers. */
        public void addUnmapped(long pages) {
            unmapped += pages;
        }

        /** The counts so far. */
        public NodeSummary summary() {
            return new NodeSummary(perNode, notPresent, zeroPage, unmapped, other);
        }
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<Integer, Long> e : perNode.entrySet()) {
            out.append("node ").append(e.getKey()).append('=').append(e.getValue()).append(' ');
        }
        out.append("notPresent=").append(notPresent).append(" zeroPage=").append(zeroPage);
        if (unmapped != 0) {
            out.append(" unmapped=").append(unmapped);
        }
        other.forEach((name, n) -> out.append(' ').append(name).append('=').append(n));
        return out.toString();
    }
}
