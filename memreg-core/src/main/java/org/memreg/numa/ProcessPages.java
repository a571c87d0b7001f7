package org.memreg.numa;

import org.memreg.linux.ProcessMaps;

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
        for (ProcessMaps.Area mapping : ProcessMaps.of(pid)) {
            if (!mapping.special()) {
                count(placement, mapping.start(), mapping.end(), counter);
            }
        }
        return counter.summary();
    }

    /**
     * Counts the pages of {@code [start, end)} of {@code placement}'s process (every page the
     * range overlaps). Only the parts inside a mapping of {@code /proc/<pid>/maps} are asked of
     * the kernel; pages between mappings count as {@link NodeSummary#unmapped()}, since
     * {@code move_pages} gives them the zero page's status. A snapshot: the process may map or
     * unmap meanwhile.
     *
     * @throws IllegalArgumentException when there is no such process, the range is empty, or
     *     it ends above {@code Long.MAX_VALUE - pageSize} (no process maps anything there)
     * @throws java.io.UncheckedIOException when its maps cannot be read (another user's process)
     */
    public static NodeSummary census(PagePlacement placement, long start, long end) {
        if (start < 0 || end < 0 || start >= end || end > Long.MAX_VALUE - placement.pageSize()) {
            throw new IllegalArgumentException(String.format("bad range 0x%x-0x%x: need 0 <= start < end <= 0x%x",
                    start, end, Long.MAX_VALUE - placement.pageSize()));
        }
        long page = placement.pageSize();
        long first = start - start % page;
        long last = Math.ceilDiv(end, page) * page;
        long pid = placement.pid() == 0 ? ProcessHandle.current().pid() : placement.pid();
        NodeSummary.Counter counter = new NodeSummary.Counter();
        long cursor = first;
        for (ProcessMaps.Area mapping : ProcessMaps.of(pid)) { // ascending, not overlapping
            // Unsigned: [vsyscall] sits at 0xffffffffff600000.
            long from = Long.compareUnsigned(mapping.start(), cursor) > 0 ? mapping.start() : cursor;
            long to = Long.compareUnsigned(mapping.end(), last) < 0 ? mapping.end() : last;
            if (Long.compareUnsigned(from, to) < 0) {
                counter.addUnmapped((from - cursor) / page);
                count(placement, from, to, counter);
                cursor = to;
            }
        }
        counter.addUnmapped((last - cursor) / page);
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
