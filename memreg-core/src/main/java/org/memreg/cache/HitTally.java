package org.memreg.cache;

import java.util.ArrayList;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cache's hit count, kept off the hit path. A hit counts itself in its entry's state word, in
 * the one CAS it does anyway to take a reference ({@link Entry#tryAcquire()}): no cache-wide
 * counter, no contended line, no lock. The total is a sum over the entries, taken here without the
 * miss lock: every entry is tracked from its creation (under the miss lock, one append to a
 * concurrent queue per miss) until a sweep finds it dead and unheld, whose hits can no longer
 * change; the sweep moves them into {@code collected} and forgets the entry. Sweeps, and so
 * {@link #total()}, are serialised on this tally's lock, which {@code stats()} and the publisher
 * thread take and the miss path only ever tries (it never waits for it); so no hit is counted
 * twice, and consecutive totals never go down but for two rare corrections: a strict-mode hit the
 * kernel then refuses takes its count back ({@link Entry#drainHits}(1)), and a total taken between
 * the two steps of {@link #drain} (once per 2^36 hits on one entry) is 2^36 too high for that one
 * call.
 *
 * <p>Entries that died wait until the next sweep. The publisher thread takes a total every
 * interval (100 ms), but at a million misses a second that alone would keep 100,000 dead entries
 * alive and make every miss pay for their garbage (MissBenchmark, no monitor: 1.6 µs a miss where
 * it was 1.1); so the miss path sweeps too, once {@link #SWEEP_AFTER} entries (or as many as are
 * live, whichever is more) were tracked since the last sweep, if the lock is free.
 */
final class HitTally {
    /** New entries between the miss path's sweeps, at least. */
    static final int SWEEP_AFTER = 1024;

    /** New entries: the miss path appends, a sweep drains them into {@link #kept}. */
    private final Queue<Entry> incoming = new ConcurrentLinkedQueue<>();
    /** The entries still to be summed (alive, or dead but held); under the lock. */
    private final ArrayList<Entry> kept = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private int trackedSinceSweep; // under the cache's miss lock
    /** Hits moved out of entries whose own field filled up ({@link Entry#HITS_DRAIN_AT}). */
    private final AtomicLong drained = new AtomicLong();
    private long collected; // under the lock

    /**
     * A new entry, before it goes into the index (so before its first hit); under the miss lock,
     * with {@code liveEntries} the registrations the cache holds. Sweeps the dead entries out now
     * and then, unless a total is being taken.
     */
    void track(Entry entry, long liveEntries) {
        incoming.offer(entry);
        if (++trackedSinceSweep >= Math.max(SWEEP_AFTER, liveEntries) && lock.tryLock()) {
            try {
                sweep();
                trackedSinceSweep = 0;
            } finally {
                lock.unlock();
            }
        }
    }

    /** After a hit that filled the entry's field: moves {@code hits} out of it. */
    void drain(Entry entry, long hits) {
        drained.addAndGet(hits);
        entry.drainHits(hits);
    }

    /** Hits so far: the dead entries' collected, the live ones' summed. */
    long total() {
        lock.lock();
        try {
            return sweep();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Under the lock: takes in the new entries, collects the dead ones' hits and forgets them,
     * and returns the total. Draining by {@code poll} and compacting a list of our own keeps a
     * sweep linear in the entries it visits (a concurrent queue's iterator has to step over the
     * nodes its own removals left behind).
     */
    private long sweep() {
        for (Entry entry; (entry = incoming.poll()) != null; ) {
            kept.add(entry);
        }
        long live = 0;
        int keep = 0;
        for (int i = 0; i < kept.size(); i++) {
            Entry entry = kept.get(i);
            long state = entry.state();
            if ((state & Entry.DEAD) != 0 && Entry.holders(state) == 0) { // frozen: nobody can hit it
                collected += Entry.hits(state);
            } else {
                live += Entry.hits(state);
                kept.set(keep++, entry);
            }
        }
        kept.subList(keep, kept.size()).clear();
        return collected + live + drained.get();
    }

    /** Entries tracked now (dead ones until the next sweep included), for tests. */
    int tracked() {
        lock.lock();
        try {
            return kept.size() + incoming.size();
        } finally {
            lock.unlock();
        }
    }
}
