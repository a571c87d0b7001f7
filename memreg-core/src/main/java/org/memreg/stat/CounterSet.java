package org.memreg.stat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Set;

/**
 * The counters of one component (a cache, an ODP region, an ODP mapping): its {@link Counter}
 * slots by {@link CounterId}, in the process's {@link CountersFile} when it has one, else in
 * ordinary memory (same code, invisible to {@code memreg stat}). Made by
 * {@link ProcessCounters#open}; closing it frees its record in the file for reuse.
 *
 * <p>Thread-safe: the counters are; {@link #close()} is idempotent.
 */
public final class CounterSet implements AutoCloseable {
    private final SetKind kind;
    private final String name;
    /** The slot per {@link CounterId#ordinal()}, null for counters the set does not hold. */
    private final Counter[] counters;
    /** Frees the set's record (in the file, or its registration with the publisher). */
    private final Runnable release;
    /** What the publisher derives for this set each interval; null for none. */
    private volatile Runnable refresher;
    private boolean closed;

    CounterSet(SetKind kind, String name, Counter[] counters, Runnable release) {
        this.kind = kind;
        this.name = name;
        this.counters = counters;
        this.release = release;
    }

    /**
     * A set of {@code kind}'s counters in ordinary memory, not in any file: for components whose
     * counters are not published, and for tests.
     */
    public static CounterSet inMemory(SetKind kind, String name) {
        Set<CounterId> ids = kind.counters();
        // Packed and line-aligned, as in the file: a reader's pass costs the writer the fewest lines.
        MemorySegment memory = Arena.ofAuto().allocate((long) ids.size() * Long.BYTES, 64);
        Counter[] counters = new Counter[CounterId.count()];
        long offset = 0;
        for (CounterId id : ids) {
            counters[id.ordinal()] = new Counter(memory, offset);
            offset += Long.BYTES;
        }
        return new CounterSet(kind, name, counters, () -> { });
    }

    /** The same counters; closing it releases this set's record, then tells {@code closed} which set closed. */
    CounterSet releasedAlsoBy(java.util.function.Consumer<CounterSet> closed) {
        CounterSet[] self = new CounterSet[1];
        self[0] = new CounterSet(kind, name, counters, () -> {
            release.run();
            closed.accept(self[0]);
        });
        return self[0];
    }

    /**
     * Has the process's one publisher thread run {@code refresher} every interval while the set is
     * open: for values that are derived rather than counted where they happen (gauges summed over
     * a structure, another component's statistics). It must be quick, must not block, and must not
     * wait for a lock that the component's hot or miss path holds.
     */
    public void refreshWith(Runnable refresher) {
        this.refresher = refresher;
    }

    /** Runs the refresher, if any (the publisher thread, or {@link ProcessCounters#publishNow()}). */
    void refresh() {
        Runnable r = refresher;
        if (r != null) {
            r.run();
        }
    }

    /** What the set counts for. */
    public SetKind kind() {
        return kind;
    }

    /** Its name as written in the file (sanitized, see {@link CountersFile#sanitize}). */
    public String name() {
        return name;
    }

    /**
     * The slot of {@code id}.
     *
     * @throws IllegalArgumentException when a set of this kind does not hold {@code id}
     */
    public Counter counter(CounterId id) {
        Counter counter = counters[Objects.requireNonNull(id, "id").ordinal()];
        if (counter == null) {
            throw new IllegalArgumentException("a " + kind.label() + " set has no counter " + id.label());
        }
        return counter;
    }

    /**
     * Frees the set: its record in the file can be given to another component after a delay
     * ({@link CountersFile#REUSE_DELAY_MILLIS}), so that a late write through an old handle never
     * lands in a new set. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        release.run();
    }

    @Override
    public String toString() {
        return "CounterSet[" + kind.label() + " " + name + "]";
    }
}
