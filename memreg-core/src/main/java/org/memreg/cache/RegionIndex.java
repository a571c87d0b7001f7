package org.memreg.cache;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import org.memreg.device.Access;

/**
 * The cache's index: live entries by start address. No entry's range holds another's; two may
 * share one edge page (without merging, the chunks of a buffer that is not page-aligned do: see
 * {@code RegistrationCache.sharesEdgePage}). So entries are in the same order by end as by start:
 * the only entry that can cover a range is the one with the greatest start at or below it, and
 * the entries overlapping a range are a run in that order.
 *
 * <p>Two views of the same entries: a hash table by exact start for the common hit (the same
 * buffer again) and a skip list by start for sub-range lookups and overlap scans.
 *
 * <p>Reads are lock-free (the hit path); writes happen under the cache's miss lock. A reader
 * racing a writer sees either the old or the new entry, and an entry it sees but that has just
 * been retired refuses new holders (see {@link Entry#tryAcquire()}), so it never gets a
 * registration that has left the index.
 */
final class RegionIndex {
    private final StartTable exact = new StartTable();
    private final ConcurrentSkipListMap<Long, Entry> byStart = new ConcurrentSkipListMap<>();

    /** The entry covering {@code [start, end)} with at least {@code access}, or null. */
    Entry find(long start, long end, Access access) {
        Entry entry = exact.get(start);
        if (entry != null) {
            return entry.covers(start, end, access) ? entry : null;
        }
        Map.Entry<Long, Entry> floor = byStart.floorEntry(start);
        if (floor == null) {
            return null;
        }
        entry = floor.getValue();
        return entry.covers(start, end, access) ? entry : null;
    }

    /** Entries overlapping {@code [start, end)}, in address order. */
    List<Entry> overlapping(long start, long end) {
        List<Entry> result = new ArrayList<>(2);
        // those starting at or below start that reach past it: the floor, and a neighbour sharing its first page
        for (Entry entry : byStart.headMap(start, true).descendingMap().values()) {
            if (entry.end <= start) {
                break;
            }
            result.addFirst(entry);
        }
        for (Entry entry : byStart.subMap(start, false, end, false).values()) {
            result.add(entry);
        }
        return result;
    }

    void add(Entry entry) {
        Entry previous = byStart.put(entry.start, entry);
        if (previous != null) {
            throw new IllegalStateException("index already had " + previous + " where " + entry + " goes");
        }
        exact.put(entry);
    }

    void remove(Entry entry) {
        if (byStart.remove(entry.start, entry)) {
            exact.remove(entry);
        }
    }

    Collection<Entry> entries() {
        return byStart.values();
    }

    void clear() {
        byStart.clear();
        exact.clear();
    }
}
