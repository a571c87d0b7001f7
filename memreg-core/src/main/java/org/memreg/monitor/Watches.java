package org.memreg.monitor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.memreg.util.PageCounts;

/**
 * What a monitor watches: counts per range, so that unwatching a range never watched does
 * nothing, and per page, so that a page stays watched until its last watch goes. Not thread
 * safe: the monitor guards it.
 */
final class Watches {
    private record Range(long start, long end) {}

    private final PageCounts pages = new PageCounts();
    private final Map<Range, Integer> ranges = new HashMap<>();

    /** Counts one more watch of {@code [start, end)}. */
    void add(long start, long end) {
        pages.increment(start, end);
        ranges.merge(new Range(start, end), 1, Integer::sum);
    }

    /**
     * Drops one watch of {@code [start, end)}; returns the page ranges no longer watched at all,
     * or null when this range was never watched (its watch failed, or was dropped already).
     */
    List<long[]> remove(long start, long end) {
        Range range = new Range(start, end);
        Integer count = ranges.get(range);
        if (count == null) {
            return null;
        }
        if (count == 1) {
            ranges.remove(range);
        } else {
            ranges.put(range, count - 1);
        }
        return pages.decrement(start, end);
    }

    /** Bytes watched at least once. */
    long coveredBytes() {
        return pages.coveredBytes();
    }
}
