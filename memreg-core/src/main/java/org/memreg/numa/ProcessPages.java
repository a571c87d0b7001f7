package org.memreg.numa;

import java.util.List;

/**
 * Page censuses of a whole process, like {@code numastat -p}: every mapping in
 * {@code /proc/<pid>/maps} (but the kernel's special ones) queried with {@code move_pages},
 * {@value #CHUNK_PAGES} pages at a time so that a large reservation (a JVM reserves gigabytes
 * of heap it never touches) costs time but little memory.
 */
public final class ProcessPages {
    static final int CHUNK_PAGES = 1 << 16;

    private ProcessPages() {
    }

    /**
     * Counts the pages of every mapping of {@code placement}'s process by node and status.
     *
     * @throws IllegalArgumentException when there is no such process
     */
    public static NodeSummary census(PagePlacement placement) {
        long pid = placement.pid() == 0 ? ProcessHandle.current().pid() : placement.pid();
        NodeSummary.Counter counter = new NodeSummary.Counter();
        for (ProcessMaps.Mapping mapping : ProcessMaps.of(pid)) {
            if (!mapping.special()) {
                count(placement, mapping.start(), mapping.end(), counter);
            }
        }
        return counter.summary();
    }

    /** Counts the pages of {@code [start, end)} of {@code placement}'s process. */
    public static NodeSummary census(PagePlacement placement, long start, long end) {
        NodeSummary.Counter counter = new NodeSummary.Counter();
        count(placement, start, end, counter);
        return counter.summary();
    }

    /** Counts the pages of the given mappings. */
    public static NodeSummary census(PagePlacement placement, List<ProcessMaps.Mapping> mappings) {
        NodeSummary.Counter counter = new NodeSummary.Counter();
        mappings.forEach(m -> count(placement, m.start(), m.end(), counter));
        return counter.summary();
    }

    private static void count(PagePlacement placement, long start, long end, NodeSummary.Counter counter) {
        long chunk = CHUNK_PAGES * placement.pageSize();
        for (long at = start; Long.compareUnsigned(at, end) < 0; at += Math.min(chunk, end - at)) {
            PageNodes nodes = placement.query(at, Math.min(chunk, end - at));
            for (int i = 0; i < nodes.pages(); i++) {
                counter.add(nodes.status(i));
            }
        }
    }
}
