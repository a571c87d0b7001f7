package org.memreg.cache;

import java.util.ArrayList;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the cache's statistics sum over its entries, kept off the hit path and away from the miss
 * path's structures: the hit count and the gauges (entries, retired entries, bytes in use). A hit
 * counts itself in its entry's state word, in the one CAS it does anyway to take a reference
 * ({@link Entry#tryAcquire()}): no cache-wide counter, no contended line, no lock. The totals are
 * sums over the entries, taken here without the miss lock and without walking the index the miss
 * path changes (a reader walking its nodes in a loop slowed every miss): every entry is tracked
 * from its creation (under the miss lock, one append to a concurrent queue per miss) until a sweep
 * finds it dead and unheld, whose hits can no longer change; the sweep moves them into
 * {@code collected} and forgets the entry. Sweeps, and so {@link #census()}, are serialised on this
 * tally's lock, which {@code stats()} and the publisher thread take and the miss path only ever
 * tries (it never waits for it); so no hit is counted twice, and consecutive hit totals never go
 * down but for two rare corrections: a strict-mode hit the kernel then refuses takes its count back
 * ({@link Entry#drainHits}(1)), and a total taken between the two steps of {@link #drain} (once per
 * 2^36 hits on one entry) is 2^36 too high for that one call. The gauges are read from each
 * entry's state word once: entries moving meanwhile may be half reflected.
 *
 * <p>Entries that died wait until the next sweep. The publisher thread takes a total every
 * interval (100 ms), but at a million misses a second that alone would keep 100,000 dead entries
 * alive and make every miss pay for their garbage (MissBenchmark, no monitor: 1.6 µs a miss where
 * it was 1.1); so the miss path sweeps too, once {@link #SWEEP_AFTER} entries (or as many as are
 * live, whichever is more) were tracked since the last sweep, if the lock is free.
 *
 * <p>Totals are taken at most once per {@link #CENSUS_INTERVAL_NANOS} (50 µs): a call sooner parks for
 * the rest, then sums (never an older total). A sweep reads the lines every miss writes (the new
 * entry, the evicted one, the queue), and a thread calling {@code stats()} in a loop made each
 * miss pay for their transfers: 1.4 µs a miss here, nearly doubling it (BENCHMARKS.md, issue 13).
 * Paced, a sweep's transfers are shared by the tens of misses between two of them.
 */
final class EntryTally {
    /** New entries between the miss path's sweeps, at least. */
    static final int SWEEP_AFTER = 1024;
    /** Least time between two totals ({@link #census()}): 20,000 a second at most, far above what monitoring asks. */
    static final long CENSUS_INTERVAL_NANOS = 50_000;

    /** New entries: the miss path appends, a sweep drains them into {@link #kept}. */
    private final Queue<Entry> incoming = new ConcurrentLinkedQueue<>();
    /** The entries still to be summed (alive, or dead but held); under the lock. */
    private final ArrayList<Entry> kept = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    /** The id of the entry whose tracking last swept: written by the miss path only when it sweeps. */
    private long sweptAt;
    /** Hits moved out of entries whose own field filled up ({@link Entry#HITS_DRAIN_AT}). */
    private final AtomicLong drained = new AtomicLong();
    private long collected; // under the lock
    private final long censusIntervalNanos;
    /** When the next total may be taken: written by those taking totals, never by the miss path. */
    private volatile long nextCensus = System.nanoTime();

    /** Totals paced {@link #CENSUS_INTERVAL_NANOS} apart. */
    EntryTally() {
        this(CENSUS_INTERVAL_NANOS);
    }

    /** With totals at most once per {@code censusIntervalNanos} (tests take them back to back with 0). */
    EntryTally(long censusIntervalNanos) {
        this.censusIntervalNanos = censusIntervalNanos;
    }

    /**
     * A new entry, before it goes into the index (so before its first hit); under the miss lock,
     * with {@code liveEntries} the registrations the cache holds. Sweeps the dead entries out now
     * and then, unless a total is being taken.
     */
    void track(Entry entry, long liveEntries) {
        incoming.offer(entry);
        if (entry.id - sweptAt >= Math.max(SWEEP_AFTER, liveEntries) && lock.tryLock()) {
            try {
                sweep();
                sweptAt = entry.id;
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

    /**
     * The sums: {@code hits} so far (the dead entries' collected, the others' summed);
     * {@code entries} in the index (not retired); {@code retired} entries still held; the
     * {@code inUseBytes} of every held entry that is not dead.
     */
    record Census(long hits, long entries, long retired, long inUseBytes) {}

    /**
     * The sums now, taken after this call began: a call within the census interval of
     * the last total parks for the rest first (an interrupted thread does not wait; its flag stays).
     */
    Census census() {
        for (long wait; (wait = nextCensus - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted(); ) {
            LockSupport.parkNanos(this, wait);
        }
        lock.lock();
        try {
            Census census = sweep();
            nextCensus = System.nanoTime() + censusIntervalNanos;
            return census;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Under the lock: takes in the new entries, collects the dead ones' hits and forgets them,
     * and returns the sums. Draining by {@code poll} and compacting a list of our own keeps a
     * sweep linear in the entries it visits (a concurrent queue's iterator has to step over the
     * nodes its own removals left behind).
     */
    private Census sweep() {
        for (Entry entry; (entry = incoming.poll()) != null; ) {
            kept.add(entry);
        }
        long live = 0;
        long frozen = 0;
        long entries = 0;
        long retired = 0;
        long inUseBytes = 0;
        int keep = 0;
        for (int i = 0; i < kept.size(); i++) {
            Entry entry = kept.get(i);
            long state = entry.state();
            boolean held = Entry.holders(state) != 0;
            if ((state & Entry.DEAD) != 0) {
                if (!held) { // frozen: nobody can hit it any more
                    frozen += Entry.hits(state);
                    continue;
                }
            } else if ((state & Entry.RETIRED) == 0) {
                entries++; // in the index (or about to be: tracked just before it goes in)
                inUseBytes += held ? entry.length() : 0;
            } else if (held) { // out of the index, waiting for its last holder
                retired++;
                inUseBytes += entry.length();
            }
            live += Entry.hits(state);
            kept.set(keep++, entry);
        }
        kept.subList(keep, kept.size()).clear();
        if (frozen != 0) { // a store per sweep would dirty a line the miss path reads
            collected += frozen;
        }
        return new Census(collected + live + drained.get(), entries, retired, inUseBytes);
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
