package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The ranges of the last memory events, so that a miss can tell whether an event arrived for
 * its range while it was registering (after it started watching, before its entry was in the
 * index, where the event's own invalidation could not find it).
 *
 * <p>Writers (the userfaultfd reader, a thread draining the hooks, a strict-mode hit) take turns
 * on the log's monitor for two stores, never while waiting for anything else; readers (under the
 * miss lock) take no lock. A ring of
 * {@value #SLOTS} ranges with a sequence number; a reader that falls more than a ring behind
 * answers "overlaps", which costs a needless re-registration, never a stale one.
 */
final class EventLog {
    static final int SLOTS = 1024;
    private static final VarHandle SEQUENCE;

    static {
        try {
            SEQUENCE = MethodHandles.lookup().findVarHandle(EventLog.class, "sequence", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long[] starts = new long[SLOTS];
    private final long[] ends = new long[SLOTS];
    @SuppressWarnings("unused") // accessed through SEQUENCE
    private volatile long sequence;

    /** The current position: events appended after this call have a higher one. */
    long mark() {
        return (long) SEQUENCE.getVolatile(this);
    }

    /** Writer: records a range, then publishes it. */
    synchronized void append(long start, long end) {
        long next = (long) SEQUENCE.getVolatile(this);
        int slot = (int) (next % SLOTS);
        starts[slot] = start;
        ends[slot] = end;
        SEQUENCE.setVolatile(this, next + 1); // publishes the slot
    }

    /** True when an event appended after {@code mark} overlaps {@code [start, end)}, or when unsure. */
    boolean overlapsSince(long mark, long start, long end) {
        long last = (long) SEQUENCE.getVolatile(this);
        if (last - mark > SLOTS / 2) {
            return true; // the writer may be overwriting what we would read
        }
        for (long sequenceNumber = mark; sequenceNumber < last; sequenceNumber++) {
            int slot = (int) (sequenceNumber % SLOTS);
            if (starts[slot] < end && start < ends[slot]) {
                return true;
            }
        }
        return (long) SEQUENCE.getVolatile(this) - mark > SLOTS / 2; // overwritten while reading
    }
}
