package org.memreg.stat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One counter's slot: an aligned {@code long} in a {@link CountersFile} (or, where no file could
 * be made, in ordinary memory), written by the code that counts and read by {@link CounterSet}
 * views and by other processes, in the manner of Agrona's {@code AtomicCounter}.
 *
 * <p>Two ways to write, by how many threads write the counter: the {@code *Ordered} methods are
 * for a single writer (or writers serialised by a lock) and cost a plain load and a release store;
 * {@link #increment()}, {@link #add(long)} and {@link #proposeMax(long)} are atomic and may be
 * called by any number of threads at once. Readers load with acquire semantics and never see a
 * torn value.
 */
public final class Counter {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment segment;
    private final long offset;

    Counter(MemorySegment segment, long offset) {
        if ((segment.address() + offset) % Long.BYTES != 0) {
            throw new IllegalArgumentException("counter at " + offset + " is not 8-byte aligned");
        }
        this.segment = segment;
        this.offset = offset;
    }

    /** The value (acquire). */
    public long get() {
        return (long) LONG.getAcquire(segment, offset);
    }

    /** Adds one, atomically; for counters several threads write. */
    public void increment() {
        LONG.getAndAdd(segment, offset, 1L);
    }

    /** Adds {@code delta}, atomically; for counters several threads write. */
    public void add(long delta) {
        LONG.getAndAdd(segment, offset, delta);
    }

    /** Adds {@code delta} with a release store; only for a counter with one writer at a time. */
    public void addOrdered(long delta) {
        LONG.setRelease(segment, offset, (long) LONG.get(segment, offset) + delta);
    }

    /** Sets the value with a release store; only for a counter with one writer at a time. */
    public void setOrdered(long value) {
        LONG.setRelease(segment, offset, value);
    }

    /** Raises the value to {@code candidate} if that is larger, atomically. */
    public void proposeMax(long candidate) {
        long current = get();
        while (candidate > current) {
            long witness = (long) LONG.compareAndExchange(segment, offset, current, candidate);
            if (witness == current) {
                return;
            }
            current = witness;
        }
    }

    @Override
    public String toString() {
        return "Counter[" + get() + "]";
    }
}
