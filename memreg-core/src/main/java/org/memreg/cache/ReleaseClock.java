package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.LongSupplier;

/**
 * Orders releases for LRU eviction at the cost of a plain load and store: no atomic, no system
 * clock (System.nanoTime costs ~18 ns here, four times a whole hit). Exact on one thread. Two
 * threads releasing at the same moment may draw the same stamp (ties are broken by creation
 * order) or briefly set it back; that only blurs which of two simultaneous releases counts as
 * more recent, never whether an entry is in use. Padded so its writes do not evict the cache's
 * read-mostly fields from other cores.
 */
final class ReleaseClock extends ReleaseClockValue implements LongSupplier {
    @SuppressWarnings("unused")
    private long p11, p12, p13, p14, p15, p16, p17;

    @Override
    public long getAsLong() {
        long now = (long) NOW.getOpaque(this);
        NOW.setOpaque(this, now + 1);
        return now;
    }
}

/** Padding before the clock's value (fields of a superclass are laid out first). */
abstract class ReleaseClockPadding {
    @SuppressWarnings("unused")
    private long p01, p02, p03, p04, p05, p06, p07;
}

/** The clock's value, between two runs of padding. */
abstract class ReleaseClockValue extends ReleaseClockPadding {
    static final VarHandle NOW;

    static {
        try {
            NOW = MethodHandles.lookup().findVarHandle(ReleaseClockValue.class, "now", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through NOW
    private long now;
}
