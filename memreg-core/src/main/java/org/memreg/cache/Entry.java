package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;

/**
 * One device registration as the cache tracks it: the region, its holders, how many hits it
 * served, and three flags, all in one {@code long} so that a hit checks the flags, takes a
 * reference and counts itself with a single CAS.
 *
 * <pre>
 *   bit 63   62        61        60 ........... 24   23 ........ 0
 *   +------+---------+---------+-----------------+---------------+
 *   | DEAD | RETIRED | INVALID |  hits served    |  holders      |
 *   +------+---------+---------+-----------------+---------------+
 * </pre>
 *
 * RETIRED: out of the index (replaced by a merge, invalidated, or the cache closed); no new
 * holder may take it and the last holder deregisters it. INVALID: its memory changed under it
 * (always with RETIRED). DEAD: deregistered or being deregistered; set by exactly one thread.
 * The hit field is drained into the cache's total before it can overflow.
 */
final class Entry {
    static final long HOLDERS_MASK = (1L << 24) - 1;
    static final int HITS_SHIFT = 24;
    static final long ONE_HIT = 1L << HITS_SHIFT;
    static final long HITS_MASK = ((1L << 37) - 1) << HITS_SHIFT;
    /** Hits an entry counts before they are drained to the cache (half the field). */
    static final long HITS_DRAIN_AT = 1L << 36;
    static final long INVALID = 1L << 61;
    static final long RETIRED = 1L << 62;
    static final long DEAD = 1L << 63;
    static final long FLAGS = DEAD | RETIRED | INVALID;

    private static final VarHandle STATE;
    private static final VarHandle LAST_USE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            STATE = lookup.findVarHandle(Entry.class, "state", long.class);
            LAST_USE = lookup.findVarHandle(Entry.class, "lastUse", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final MemoryRegion region;
    final long start;
    final long end;
    final Access access;
    /** Creation order; breaks ties between equal use stamps. */
    final long id;
    /**
     * The monitor could not watch this memory (userfaultfd takes anonymous memory, shmem and
     * hugetlbfs only): nothing would tell the cache that it changed, so the entry serves only the
     * acquire that made it and is deregistered at its release.
     */
    final boolean unwatched;
    @SuppressWarnings("unused") // accessed through LAST_USE
    private long lastUse;
    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;

    Entry(MemoryRegion region, long id, long now, boolean unwatched) {
        this.region = region;
        this.start = region.address();
        this.end = region.end();
        this.access = region.access();
        this.id = id;
        this.unwatched = unwatched;
        this.lastUse = now;
        this.state = 1; // created for the holder that missed
    }

    long length() {
        return end - start;
    }

    long state() {
        return (long) STATE.getVolatile(this);
    }

    static long holders(long state) {
        return state & HOLDERS_MASK;
    }

    static long hits(long state) {
        return (state & HITS_MASK) >>> HITS_SHIFT;
    }

    /** When the entry was last released (or created), on the cache's release clock. */
    long lastUse() {
        return (long) LAST_USE.getOpaque(this);
    }

    /** Stamps a release; the decrement that follows publishes it to the evicting thread. */
    void stampUse(long now) {
        LAST_USE.setOpaque(this, now);
    }

    boolean covers(long from, long to, Access requested) {
        return start <= from && to <= end && access.includes(requested);
    }

    /**
     * Takes a reference and counts a hit if the entry is live and in the index: the hit path's
     * only shared write. Returns the state before, or -1 when it may not be taken.
     */
    long tryAcquire() {
        long s = state();
        while ((s & FLAGS) == 0) {
            if (holders(s) == HOLDERS_MASK) {
                throw new IllegalStateException("too many holders of one registration: " + HOLDERS_MASK);
            }
            long witness = (long) STATE.compareAndExchange(this, s, s + 1 + ONE_HIT);
            if (witness == s) {
                return s;
            }
            s = witness;
        }
        return -1;
    }

    /** Moves {@code hits} counted hits out of the entry (the caller adds them elsewhere). */
    void drainHits(long hits) {
        STATE.getAndAdd(this, -(hits << HITS_SHIFT));
    }

    /** Drops a reference; returns the new state. */
    long release() {
        return (long) STATE.getAndAdd(this, -1L) - 1;
    }

    /**
     * Claims the entry for deregistration if nobody holds it and it is not already dead.
     * {@code requireUnflagged}: only an entry still live in the index (eviction, trim) may be claimed.
     */
    boolean tryKill(boolean requireUnflagged) {
        long s = state();
        while (holders(s) == 0 && (s & DEAD) == 0 && (!requireUnflagged || (s & FLAGS) == 0)) {
            long witness = (long) STATE.compareAndExchange(this, s, s | DEAD | RETIRED);
            if (witness == s) {
                return true;
            }
            s = witness;
        }
        return false;
    }

    /** Sets flags (RETIRED, INVALID) on an entry; returns the state before. */
    long mark(long flags) {
        return (long) STATE.getAndBitwiseOr(this, flags);
    }

    /** Kills regardless of holders (cache close); true if this call killed it. */
    boolean forceKill() {
        return ((long) STATE.getAndBitwiseOr(this, DEAD | RETIRED) & DEAD) == 0;
    }

    /** True while unused and unflagged: what eviction may take. */
    boolean isUnused() {
        return (state() & (FLAGS | HOLDERS_MASK)) == 0;
    }

    @Override
    public String toString() {
        long s = state();
        return String.format("Entry[0x%x..0x%x %s holders=%d%s%s%s]", start, end, access, holders(s),
                (s & RETIRED) != 0 ? " retired" : "", (s & INVALID) != 0 ? " invalid" : "",
                (s & DEAD) != 0 ? " dead" : "");
    }
}
