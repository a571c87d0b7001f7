package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.memreg.monitor.HookLibrary.CALLS;
import static org.memreg.monitor.HookLibrary.GRANULE_SHIFT;
import static org.memreg.monitor.HookLibrary.HEAD;
import static org.memreg.monitor.HookLibrary.HIGH_WATCHES;
import static org.memreg.monitor.HookLibrary.L1;
import static org.memreg.monitor.HookLibrary.L1_SLOTS;
import static org.memreg.monitor.HookLibrary.L2_BITS;
import static org.memreg.monitor.HookLibrary.OVERFLOW;
import static org.memreg.monitor.HookLibrary.OVERFLOWS;
import static org.memreg.monitor.HookLibrary.PROBE_END;
import static org.memreg.monitor.HookLibrary.PROBE_HITS;
import static org.memreg.monitor.HookLibrary.PROBE_START;
import static org.memreg.monitor.HookLibrary.RING;
import static org.memreg.monitor.HookLibrary.RING_SLOTS;
import static org.memreg.monitor.HookLibrary.SEQUENCE;
import static org.memreg.monitor.HookLibrary.SLOT_END;
import static org.memreg.monitor.HookLibrary.SLOT_SIZE;
import static org.memreg.monitor.HookLibrary.SLOT_START;
import static org.memreg.monitor.HookLibrary.TABLE_LIMIT;
import static org.memreg.monitor.HookLibrary.TAIL;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * Java's side of one {@code struct memreg_hooks} (see {@code memreg_hooks.c}): the table of
 * watched granules the C handler reads and the ring it fills, in native memory of a shared arena
 * (so that a read after {@link #close()} throws instead of touching freed memory), and the
 * sequence it raises, in a {@link SequenceCells cell} the struct points to. The handler for this
 * struct is installed by {@link #install()} and removed by {@link #close()} before the memory goes.
 *
 * <pre>
 *   &amp;sequence | head overflows overflow | tail | calls | probe start/end/hits, high watches
 *   | l1[8192] -> l2 tables of 8192 uint32 counts, one per 2 MiB | ring[2048] {stamp, start, end}
 * </pre>
 *
 * <p>Watch counts ({@link #addWatch}) are written under the owner's lock; {@link #drain} runs on
 * one thread at a time (the owner's drain lock); the rest is atomic.
 */
final class HookState implements AutoCloseable {
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final long L2_SLOTS = 1L << L2_BITS;
    private static final long L2_BYTES = L2_SLOTS * Integer.BYTES;
    /** How long a drain waits for a producer that claimed a slot to fill it (it never blocks). */
    private static final long STALL_NANOS = 10_000_000;

    /** Receives a drained range. */
    @FunctionalInterface
    interface RangeSink {
        void accept(long start, long end);
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;
    private final long sequenceCell;
    private final MemorySegment[] tables = new MemorySegment[L1_SLOTS];
    private boolean installed;
    private boolean cellReleased;
    private volatile long stalls; // written by the one draining thread

    /** @throws IllegalStateException when {@link SequenceCells#CELLS} monitors are open already */
    HookState() {
        sequenceCell = SequenceCells.claim();
        try {
            segment = arena.allocate(HookLibrary.SIZE, 64); // zeroed: empty table, empty ring
        } catch (RuntimeException | OutOfMemoryError e) {
            SequenceCells.release(sequenceCell);
            throw e;
        }
        LONG.set(segment, SEQUENCE, SequenceCells.address(sequenceCell)); // before install publishes it
    }

    /**
     * Adds the C handler for this struct.
     *
     * @return null, or why UCM refused
     */
    String install() {
        String refused = HookLibrary.install(segment.address());
        installed = refused == null;
        return refused;
    }

    /** The {@link SequenceCells cell} of the sequence the handler raises (the hit path reads it: {@link HookGate}). */
    long sequenceCell() {
        return sequenceCell;
    }

    /**
     * Adds {@code delta} (+1 or -1) to the watch count of every 2 MiB granule of
     * {@code [start, end)}. Increments are full fences, so a range is in the table before the
     * caller registers it.
     */
    void addWatch(long start, long end, int delta) {
        if (end > TABLE_LIMIT) {
            LONG.getAndAdd(segment, HIGH_WATCHES, (long) delta);
            end = TABLE_LIMIT;
        }
        for (long granule = start >>> GRANULE_SHIFT; start < end && granule <= (end - 1) >>> GRANULE_SHIFT; granule++) {
            int slot = (int) (granule >>> L2_BITS);
            MemorySegment table = tables[slot];
            if (table == null) {
                table = arena.allocate(L2_BYTES, 64);
                tables[slot] = table;
                LONG.setRelease(segment, L1 + 8L * slot, table.address()); // after the zeroes
            }
            INT.getAndAdd(table, (granule & (L2_SLOTS - 1)) * Integer.BYTES, delta);
        }
    }

    /**
     * Takes every published range out of the ring, in order, into {@code sink}; an overflow (or
     * a producer that stalled mid-slot) is reported as the range {@code [0, Long.MAX_VALUE)}:
     * everything. Returns the sequence read before draining: every range published up to it
     * has been passed on.
     */
    long drain(RangeSink sink) {
        long target = SequenceCells.read(sequenceCell);
        boolean lost = (int) INT.getAndSet(segment, OVERFLOW, 0) != 0; // after the sequence: see publish()
        long head = (long) LONG.getAcquire(segment, HEAD);
        for (long pos = (long) LONG.getAcquire(segment, TAIL); pos < head; pos++) {
            long slot = RING + (pos & (RING_SLOTS - 1)) * SLOT_SIZE;
            if (!awaitStamp(slot, pos + 1)) {
                stalls++;
                lost = true; // its range comes in a later drain; meanwhile treat everything as changed
                break;
            }
            long start = (long) LONG.get(segment, slot + SLOT_START);
            long end = (long) LONG.get(segment, slot + SLOT_END);
            LONG.setRelease(segment, TAIL, pos + 1); // the slot may be reused from here on
            sink.accept(start, end);
        }
        if (lost) {
            sink.accept(0, Long.MAX_VALUE);
        }
        return target;
    }

    private boolean awaitStamp(long slot, long stamp) {
        long deadline = 0;
        for (int spins = 0; (long) LONG.getAcquire(segment, slot) != stamp; spins++) {
            if (spins < 1000) {
                Thread.onSpinWait();
                continue;
            }
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + STALL_NANOS;
            } else if (now - deadline > 0) {
                return false;
            }
            Thread.yield(); // the producer was preempted between claiming and filling the slot
        }
        return true;
    }

    /** Makes the next hit drain and treat every registration as changed (hooks lost, or found again). */
    void raiseSuspect() {
        INT.setRelease(segment, OVERFLOW, 1); // throws once closed, before touching the cell
        SequenceCells.increment(sequenceCell);
    }

    /** Sets the range whose unmaps are counted in {@link #probeHits()} instead of published. */
    void probe(long start, long end) {
        LONG.setRelease(segment, PROBE_START, start);
        LONG.setRelease(segment, PROBE_END, end);
    }

    long probeHits() {
        return (long) LONG.getAcquire(segment, PROBE_HITS);
    }

    /** Every time the handler ran for this struct, watched range or not. */
    long calls() {
        return (long) LONG.getAcquire(segment, CALLS);
    }

    /** Ring overflows, plus drains that gave up on a stalled producer. */
    long overflows() {
        return (long) LONG.getAcquire(segment, OVERFLOWS) + stalls;
    }

    /** Removes the handler, then frees the memory and the sequence's cell; closing twice is harmless. */
    @Override
    public void close() {
        if (installed) {
            installed = false;
            HookLibrary.remove(segment.address());
        }
        if (arena.scope().isAlive()) {
            arena.close();
        }
        if (!cellReleased) {
            cellReleased = true;
            SequenceCells.release(sequenceCell);
        }
    }
}
