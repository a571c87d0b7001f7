package org.memreg.numa;

import org.memreg.linux.MovePages;

/**
 * The statuses of consecutive pages from {@code firstPage}, as {@link PagePlacement#query}
 * returns them: {@code status[i]} is for page {@code firstPage + i * pageSize}.
 *
 * @param firstPage the page-aligned address of the first page
 * @param pageSize the page size
 * @param status per page: a node id, or a negative {@link MovePages} code
 */
public record PageNodes(long firstPage, long pageSize, int[] status) {
    /** The number of pages. */
    public int pages() {
        return status.length;
    }

    /** The address of page {@code i}. */
    public long page(int i) {
        return firstPage + i * pageSize;
    }

    /** The status of page {@code i}. */
    public int status(int i) {
        return status[i];
    }

    /** Counts per node and per non-node status. */
    public NodeSummary summary() {
        NodeSummary.Counter counter = new NodeSummary.Counter();
        for (int s : status) {
            counter.add(s);
        }
        return counter.summary();
    }
}
