package org.memreg.util;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per-page reference counts kept as an interval map: runs {@code [start, end)} of pages with the
 * same count, counts of zero not stored. Devices and monitors use it to act on a page only when its count
 * goes 0→1 (lock it) or 1→0 (unlock it), since the kernel's own page locks are not counted.
 *
 * <p>Not thread safe: the owning device guards it. Ranges are byte ranges; callers keep them
 * page aligned. Returned ranges are {@code long[]{start, end}}, ascending and merged.
 */
public final class PageCounts {
    // start -> {end, count}; runs never overlap and have count >= 1.
    private final TreeMap<Long, long[]> runs = new TreeMap<>();
    private long coveredBytes;

    /** Bytes with a count of at least one. */
    public long coveredBytes() {
        return coveredBytes;
    }

    /** True when no page has a count. */
    public boolean isEmpty() {
        return runs.isEmpty();
    }

    /** The sub-ranges of {@code [start, end)} whose count is zero. */
    public List<long[]> gaps(long start, long end) {
        List<long[]> gaps = new ArrayList<>();
        long cursor = start;
        Map.Entry<Long, long[]> first = runs.lowerEntry(start);
        if (first != null && first.getValue()[0] > start) {
            cursor = Math.min(end, first.getValue()[0]);
        }
        for (Map.Entry<Long, long[]> run : runs.subMap(start, true, end, false).entrySet()) {
            if (run.getKey() > cursor) {
                gaps.add(new long[] {cursor, run.getKey()});
            }
            cursor = Math.max(cursor, Math.min(end, run.getValue()[0]));
        }
        if (cursor < end) {
            gaps.add(new long[] {cursor, end});
        }
        return gaps;
    }

    /** Adds one to every page of {@code [start, end)}; returns the ranges that went 0→1. */
    public List<long[]> increment(long start, long end) {
        List<long[]> gaps = gaps(start, end);
        split(start);
        split(end);
        for (long[] run : runs.subMap(start, true, end, false).values()) {
            run[1]++;
        }
        for (long[] gap : gaps) {
            runs.put(gap[0], new long[] {gap[1], 1});
            coveredBytes += gap[1] - gap[0];
        }
        coalesce(start, end);
        return gaps;
    }

    /**
     * Subtracts one from every page of {@code [start, end)}; returns the ranges that went 1→0.
     *
     * @throws IllegalStateException when part of the range has no count (a bookkeeping bug)
     */
    public List<long[]> decrement(long start, long end) {
        if (!gaps(start, end).isEmpty()) {
            throw new IllegalStateException(String.format("0x%x..0x%x is not wholly counted", start, end));
        }
        split(start);
        split(end);
        List<long[]> freed = new ArrayList<>();
        var iterator = runs.subMap(start, true, end, false).entrySet().iterator();
        while (iterator.hasNext()) {
            Map.Entry<Long, long[]> run = iterator.next();
            long runStart = run.getKey();
            long runEnd = run.getValue()[0];
            if (--run.getValue()[1] == 0) {
                iterator.remove(); // may recycle the entry object for its successor: use the copies
                coveredBytes -= runEnd - runStart;
                long[] last = freed.isEmpty() ? null : freed.getLast();
                if (last != null && last[1] == runStart) {
                    last[1] = runEnd;
                } else {
                    freed.add(new long[] {runStart, runEnd});
                }
            }
        }
        coalesce(start, end);
        return freed;
    }

    /** Every counted range, merged: what to release when the device closes. */
    public List<long[]> coveredRanges() {
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<Long, long[]> run : runs.entrySet()) {
            long[] last = ranges.isEmpty() ? null : ranges.getLast();
            if (last != null && last[1] == run.getKey()) {
                last[1] = run.getValue()[0];
            } else {
                ranges.add(new long[] {run.getKey(), run.getValue()[0]});
            }
        }
        return ranges;
    }

    /** Forgets every count. */
    public void clear() {
        runs.clear();
        coveredBytes = 0;
    }

    /** Number of runs stored (for tests: the map stays small). */
    public int runCount() {
        return runs.size();
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder();
        runs.forEach((start, run) -> text.append(String.format("[%d,%d)x%d", start, run[0], run[1])));
        return text.toString();
    }

    // Makes 'at' a run boundary if it falls inside a run.
    private void split(long at) {
        Map.Entry<Long, long[]> run = runs.lowerEntry(at);
        if (run != null && run.getValue()[0] > at) {
            runs.put(at, new long[] {run.getValue()[0], run.getValue()[1]});
            run.getValue()[0] = at;
        }
    }

    // Merges adjacent runs with equal counts in and around [start, end].
    private void coalesce(long start, long end) {
        Long from = runs.lowerKey(start);
        long[] previous = null;
        var iterator = runs.subMap(from == null ? start : from, true, end, true).entrySet().iterator();
        while (iterator.hasNext()) {
            Map.Entry<Long, long[]> run = iterator.next();
            long[] value = run.getValue();
            if (previous != null && previous[0] == run.getKey() && previous[1] == value[1]) {
                previous[0] = value[0];
                iterator.remove(); // the entry object may be recycled: keep only the value array
            } else {
                previous = value;
            }
        }
    }
}
