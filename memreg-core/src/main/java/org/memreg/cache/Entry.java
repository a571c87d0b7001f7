package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;

/**
 * One device registration as the cache tracks it: the region, a holder count, and three flags,
 * all in one {@code int} so that a hit can check and take a reference with a single CAS.
 *
 * <pre>
 *   bit 31      30        29        28 .. 0
 *   +-------+---------+---------+-------------------+
 *   | DEAD  | RETIRED | INVALID |  holder count     |
 *   +-------+---------+---------+-------------------+
 * </pre>
 *
 * RETIRED: out of the index (replaced by a merge, invalidated, or the cache closed); no new
 * holder may take it and the last holder deregisters it. INVALID: its memory changed under it
 * (always with RETIRED). DEAD: deregistered or being deregistered; set by exactly one thread.
 */
final class Entry {
    static final int COUNT_MASK = (1 << 29) - 1;
    static final int INVALID = 1 << 29;
    static final int RETIRED = 1 << 30;
    static final int DEAD = 1 << 31;
    static final int FLAGS = DEAD | RETIRED | INVALID;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Entry.class, "state", int.class);
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
    /** When the entry was last released (or created); ordered by the cache's clock. */
    volatile long lastUse;
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;

    Entry(MemoryRegion region, long id, long now) {
        this.region = region;
        this.start = region.address();
        this.end = region.end();
        this.access = region.access();
        this.id = id;
        this.lastUse = now;
        this.state = 1; // created for the holder that missed
    }

    long length() {
        return end - start;
    }

    int state() {
        return (int) STATE.getVolatile(this);
    }

    boolean covers(long from, long to, Access requested) {
        return start <= from && to <= end && access.includes(requested);
    }

    /** Takes a reference if the entry is live and in the index; the hit path's only write. */
    boolean tryAcquire() {
        int s = state();
        while ((s & FLAGS) == 0) {
            if ((s & COUNT_MASK) == COUNT_MASK) {
                throw new IllegalStateException("too many holders of one registration: " + COUNT_MASK);
            }
            int witness = (int) STATE.compareAndExchange(this, s, s + 1);
            if (witness == s) {
                return true;
            }
            s = witness;
        }
        return false;
    }

    /** Drops a reference; returns the new state. */
    int release() {
        return (int) STATE.getAndAdd(this, -1) - 1;
    }

    /**
     * Claims the entry for deregistration if nobody holds it and it is not already dead.
     * {@code requireUnflagged}: only an entry still live in the index (eviction, trim) may be claimed.
     */
    boolean tryKill(boolean requireUnflagged) {
        int s = state();
        while ((s & COUNT_MASK) == 0 && (s & DEAD) == 0 && (!requireUnflagged || (s & FLAGS) == 0)) {
            int witness = (int) STATE.compareAndExchange(this, s, s | DEAD | RETIRED);
            if (witness == s) {
                return true;
            }
            s = witness;
        }
        return false;
    }

    /** Sets flags (RETIRED, INVALID) on an entry; returns the state before. */
    int mark(int flags) {
        return (int) STATE.getAndBitwiseOr(this, flags);
    }

    /** Kills regardless of holders (cache close); true if this call killed it. */
    boolean forceKill() {
        return ((int) STATE.getAndBitwiseOr(this, DEAD | RETIRED) & DEAD) == 0;
    }

    @Override
    public String toString() {
        int s = state();
        return String.format("Entry[0x%x..0x%x %s holders=%d%s%s%s]", start, end, access, s & COUNT_MASK,
                (s & RETIRED) != 0 ? " retired" : "", (s & INVALID) != 0 ? " invalid" : "",
                (s & DEAD) != 0 ? " dead" : "");
    }
}
