package org.memreg.cache;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Picks the least recently used unused entry, without a list that every hit would have to update.
 *
 * <p>Releases only stamp the entry. When a victim is needed this takes a snapshot of the unused
 * entries sorted by stamp and hands them out in order, skipping any whose stamp changed or that
 * gained a holder since. The order is exact: anything used after the snapshot carries a newer
 * stamp than every entry still waiting in it, and a fresh snapshot is taken when it runs out.
 * Called under the cache's miss lock only.
 */
final class EvictionOrder {
    private static final Comparator<Candidate> LEAST_RECENT_FIRST =
            Comparator.comparingLong(Candidate::stamp).thenComparingLong(c -> c.entry().id);

    private Entry[] batch = new Entry[0];
    private long[] stamps = new long[0];
    private int next;

    /** Claims (marks dead) and returns the least recently used unused entry, or null if none. */
    Entry claimVictim(RegionIndex index) {
        for (int pass = 0; pass < 2; pass++) {
            while (next < batch.length) {
                Entry candidate = batch[next];
                long stamp = stamps[next];
                batch[next++] = null;
                if (candidate.lastUse() == stamp && candidate.tryKill(true)) {
                    return candidate;
                }
            }
            snapshot(index);
        }
        return null;
    }

    private void snapshot(RegionIndex index) {
        List<Candidate> unused = new ArrayList<>();
        for (Entry entry : index.entries()) {
            long stamp = entry.lastUse(); // read before the state: a release stamps, then decrements
            if (entry.isUnused()) {
                unused.add(new Candidate(entry, stamp));
            }
        }
        unused.sort(LEAST_RECENT_FIRST);
        batch = new Entry[unused.size()];
        stamps = new long[unused.size()];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = unused.get(i).entry();
            stamps[i] = unused.get(i).stamp();
        }
        next = 0;
    }

    private record Candidate(Entry entry, long stamp) {}

    /** Forgets the snapshot (after close). */
    void clear() {
        batch = new Entry[0];
        stamps = new long[0];
        next = 0;
    }
}
