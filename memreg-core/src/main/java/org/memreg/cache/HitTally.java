package org.memreg.cache;

import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cache's hit count, kept off the hit path. A hit counts itself in its entry's state word, in
 * the one CAS it does anyway to take a reference ({@link Entry#tryAcquire()}): no cache-wide
 * counter, no contended line, no lock. The total is a sum over the entries, taken here without the
 * miss lock: every entry is tracked from its creation (under the miss lock, one concurrent-set
 * insert per miss) until a {@link #total()} finds it dead and unheld, whose hits can no longer
 * change; that call moves them into {@code collected} and forgets the entry. {@link #total()} is
 * serialised on this object's monitor, which only {@code stats()} and the publisher thread take,
 * never the hit or miss path; so no hit is counted twice, and consecutive totals never go down
 * but for two rare corrections: a strict-mode hit the kernel then refuses takes its count back
 * ({@link Entry#drainHits}(1)), and a total taken between the two steps of {@link #drain}
 * (once per 2^36 hits on one entry) is 2^36 too high for that one call.
 *
 * <p>Entries that died wait in the tracked set until the next total; the process's publisher
 * thread takes one every interval (100 ms), which bounds them.
 */
final class HitTally {
    private final Set<Entry> tracked = ConcurrentHashMap.newKeySet();
    /** Hits moved out of entries whose own field filled up ({@link Entry#HITS_DRAIN_AT}). */
    private final AtomicLong drained = new AtomicLong();
    private long collected; // guarded by this

    /** A new entry, before it goes into the index (so before its first hit). */
    void track(Entry entry) {
        tracked.add(entry);
    }

    /** After a hit that filled the entry's field: moves {@code hits} out of it. */
    void drain(Entry entry, long hits) {
        drained.addAndGet(hits);
        entry.drainHits(hits);
    }

    /** Hits so far: the dead entries' collected, the live ones' summed. */
    synchronized long total() {
        long live = 0;
        for (Iterator<Entry> it = tracked.iterator(); it.hasNext(); ) {
            Entry entry = it.next();
            long state = entry.state();
            if ((state & Entry.DEAD) != 0 && Entry.holders(state) == 0) { // frozen: nobody can hit it
                collected += Entry.hits(state);
                it.remove();
            } else {
                live += Entry.hits(state);
            }
        }
        return collected + live + drained.get();
    }

    /** Entries tracked now (dead ones until the next total included). */
    int tracked() {
        return tracked.size();
    }
}
