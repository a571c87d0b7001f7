package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the cache's statistics sum over its entries, kept off the hit path and away from the miss
 * path's structures: the hit count and the gauges (entries, retired entries, bytes in use). A hit
 * counts itself in its entry's state word, in the one CAS it does anyway to take a reference
 * ({@link Entry#tryAcquire()}): no cache-wide counter, no contended line, no lock. The totals are
 * sums over the entries, taken here without the miss lock and without walking the index the miss
 * path changes (a reader walking its nodes in a loop slowed every miss): every entry is tracked
 * from its creation (under the miss lock, one store into a chain of arrays per miss) until a sweep
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
 * <p>A thread may call {@code stats()} in a loop while misses run, so what a miss writes and a
 * sweep reads is kept to the least (BENCHMARKS.md, issue 13): new entries go into a chain of
 * arrays that has one writer (the miss lock's holder) and one reader (the lock's holder), each slot
 * written once with a release store, no CAS and no shared head or tail; and the fields the miss
 * path writes sit on other cache lines than those a sweep writes (HotSpot lays out a superclass's
 * fields before its subclass's, so the padding classes below keep them apart).
 */
final class EntryTally extends EntryTallyTakeSide {
    /** New entries between the miss path's sweeps, at least. */
    static final int SWEEP_AFTER = 1024;
    /** Slots per array of the chain; one more slot links the next array. */
    static final int LINK = 64;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    /** The entries still to be summed (alive, or dead but held); under the lock. */
    private final ArrayList<Entry> kept = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    /** Hits moved out of entries whose own field filled up ({@link Entry#HITS_DRAIN_AT}). */
    private final AtomicLong drained = new AtomicLong();

    EntryTally() {
        Object[] first = new Object[LINK + 1];
        appendChunk = first;
        takeChunk = first;
    }

    /**
     * A new entry, before it goes into the index (so before its first hit); under the miss lock,
     * with {@code liveEntries} the registrations the cache holds. Sweeps the dead entries out now
     * and then, unless a total is being taken.
     */
    void track(Entry entry, long liveEntries) {
        append(entry);
        if (entry.id - sweptAt >= Math.max(SWEEP_AFTER, liveEntries) && lock.tryLock()) {
            try {
                sweep();
                sweptAt = entry.id;
            } finally {
                lock.unlock();
            }
        }
    }

    /** Under the miss lock: the entry into the next slot, linking a new array when one fills. */
    private void append(Entry entry) {
        if (appendAt == LINK) {
            Object[] next = new Object[LINK + 1];
            next[0] = entry; // published by the release store of the link
            SLOT.setRelease(appendChunk, LINK, next);
            appendChunk = next;
            appendAt = 1;
        } else {
            SLOT.setRelease(appendChunk, appendAt++, entry);
        }
    }

    /** Under the lock: the next entry the miss path appended, or null if none is left. */
    private Entry take() {
        if (takeAt == LINK) {
            Object[] next = (Object[]) SLOT.getAcquire(takeChunk, LINK);
            if (next == null) {
                return null;
            }
            takeChunk = next;
            takeAt = 0;
        }
        Entry entry = (Entry) SLOT.getAcquire(takeChunk, takeAt);
        if (entry != null) {
            takeAt++;
        }
        return entry;
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

    /** The sums now. */
    Census census() {
        lock.lock();
        try {
            return sweep();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Under the lock: takes in the new entries, collects the dead ones' hits and forgets them,
     * and returns the sums. Compacting a list of our own keeps a sweep linear in the entries it
     * visits.
     */
    private Census sweep() {
        for (Entry entry; (entry = take()) != null; ) {
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
        collected += frozen;
        return new Census(collected + live + drained.get(), entries, retired, inUseBytes);
    }

    /** Entries tracked now (dead ones until the next sweep included), for tests; takes in the new ones. */
    int tracked() {
        lock.lock();
        try {
            for (Entry entry; (entry = take()) != null; ) {
                kept.add(entry);
            }
            return kept.size();
        } finally {
            lock.unlock();
        }
    }
}

/**
 * 128 bytes of padding (two lines, for the adjacent-line prefetch): the miss path's fields below
 * share no cache line with the object's header or whatever lies before it. Bytes, because HotSpot
 * fills a superclass's holes with a subclass's fields, and bytes fill every hole first.
 */
abstract class EntryTallyPadBefore {
    byte a00, a01, a02, a03, a04, a05, a06, a07, a08, a09, a0a, a0b, a0c, a0d, a0e, a0f;
    byte a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a1a, a1b, a1c, a1d, a1e, a1f;
    byte a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a2a, a2b, a2c, a2d, a2e, a2f;
    byte a30, a31, a32, a33, a34, a35, a36, a37, a38, a39, a3a, a3b, a3c, a3d, a3e, a3f;
    byte a40, a41, a42, a43, a44, a45, a46, a47, a48, a49, a4a, a4b, a4c, a4d, a4e, a4f;
    byte a50, a51, a52, a53, a54, a55, a56, a57, a58, a59, a5a, a5b, a5c, a5d, a5e, a5f;
    byte a60, a61, a62, a63, a64, a65, a66, a67, a68, a69, a6a, a6b, a6c, a6d, a6e, a6f;
    byte a70, a71, a72, a73, a74, a75, a76, a77, a78, a79, a7a, a7b, a7c, a7d, a7e, a7f;
}

/** What the miss path writes, under the miss lock. */
abstract class EntryTallyAppendSide extends EntryTallyPadBefore {
    /** The array new entries go into, and the next free slot in it. */
    Object[] appendChunk;
    int appendAt;
    /** The id of the entry whose tracking last swept: written only when the miss path sweeps. */
    long sweptAt;
}

/** 128 bytes of padding between what the miss path writes and what a sweep writes. */
abstract class EntryTallyPadBetween extends EntryTallyAppendSide {
    byte b00, b01, b02, b03, b04, b05, b06, b07, b08, b09, b0a, b0b, b0c, b0d, b0e, b0f;
    byte b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b1a, b1b, b1c, b1d, b1e, b1f;
    byte b20, b21, b22, b23, b24, b25, b26, b27, b28, b29, b2a, b2b, b2c, b2d, b2e, b2f;
    byte b30, b31, b32, b33, b34, b35, b36, b37, b38, b39, b3a, b3b, b3c, b3d, b3e, b3f;
    byte b40, b41, b42, b43, b44, b45, b46, b47, b48, b49, b4a, b4b, b4c, b4d, b4e, b4f;
    byte b50, b51, b52, b53, b54, b55, b56, b57, b58, b59, b5a, b5b, b5c, b5d, b5e, b5f;
    byte b60, b61, b62, b63, b64, b65, b66, b67, b68, b69, b6a, b6b, b6c, b6d, b6e, b6f;
    byte b70, b71, b72, b73, b74, b75, b76, b77, b78, b79, b7a, b7b, b7c, b7d, b7e, b7f;
}

/** What a sweep writes, under the tally's lock. */
abstract class EntryTallyTakeSide extends EntryTallyPadBetween {
    /** The array the next new entry is taken from, and its slot. */
    Object[] takeChunk;
    int takeAt;
    /** Hits of the entries swept out dead. */
    long collected;
}
