package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.BitSet;

/**
 * Where the hooks' sequences and the userfaultfd readers' counts of batches taken live: one
 * cache line each in a slab of native memory that is never freed, written by C. Every cache hit
 * reads its monitor's cell; through this constant global segment the read needs no session
 * check and no segment object of its own (the JIT folds both away), which is what kept the
 * hooks' hit above 1.1x no monitor. A gate that outlives its monitor still
 * reads memory that exists: at worst another monitor's sequence, which makes it drain a closed
 * monitor, a no-op. A cell goes back to the pool only after its handler is removed (its reader
 * thread has ended).
 */
final class SequenceCells {
    /**
     * Hook and userfaultfd monitors open at once: each hook monitor installs a UCM handler that
     * every unmap in the process runs, each userfaultfd monitor runs two threads.
     */
    static final int CELLS = 1024;
    private static final long CELL_BYTES = 64;
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final MemorySegment SLAB = Arena.global().allocate(CELLS * CELL_BYTES, CELL_BYTES);
    private static final BitSet CLAIMED = new BitSet(CELLS);

    private SequenceCells() {
    }

    /**
     * A zeroed cell.
     *
     * @return the cell's offset
     * @throws IllegalStateException when {@value #CELLS} cells are claimed
     */
    static long claim() {
        synchronized (CLAIMED) {
            int index = CLAIMED.nextClearBit(0);
            if (index >= CELLS) {
                throw new IllegalStateException(CELLS + " hook and userfaultfd monitors are open in this process,"
                        + " the most there can be; close some first");
            }
            CLAIMED.set(index);
            long cell = index * CELL_BYTES;
            LONG.setRelease(SLAB, cell, 0L);
            return cell;
        }
    }

    /** Returns a cell whose handler is removed; it is zeroed when claimed again. */
    static void release(long cell) {
        synchronized (CLAIMED) {
            CLAIMED.clear((int) (cell / CELL_BYTES));
        }
    }

    /** The cell's native address, for the handler's struct. */
    static long address(long cell) {
        return SLAB.address() + cell;
    }

    static long read(long cell) {
        return (long) LONG.getAcquire(SLAB, cell);
    }

    static void increment(long cell) {
        LONG.getAndAdd(SLAB, cell, 1L);
    }

    /** Cells claimed now (for tests). */
    static int claimed() {
        synchronized (CLAIMED) {
            return CLAIMED.cardinality();
        }
    }
}
