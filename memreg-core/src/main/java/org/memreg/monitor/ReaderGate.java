package org.memreg.monitor;

import java.util.concurrent.locks.LockSupport;

/**
 * The userfaultfd reader's gate. Closes the window between the kernel waking a blocked munmap
 * caller and the cache having acted on its event (see shared/PLATFORM.md: the caller is woken
 * when the reader <em>reads</em> the event). The native reader raises the count of batches
 * taken, in a {@link SequenceCells cell}, before each read; the delivery thread calls
 * {@link #delivered} once it has passed a batch's events on. A cache that sees
 * {@link #isPending()} while looking up takes the slow path and {@link #awaitDelivery() waits}
 * for the batches taken so far.
 *
 * <p>The hit path reads the cell (an acquire load of native memory that is never freed) and one
 * field: two plain loads on x86.
 */
final class ReaderGate extends EventGate {
    private final long takenCell;
    private volatile long delivered; // written by the one delivery thread
    private volatile boolean closed;

    ReaderGate(long takenCell) {
        this.takenCell = takenCell;
    }

    /** The delivery thread: the first {@code batches} batches have been delivered. */
    void delivered(long batches) {
        delivered = batches;
    }

    @Override
    public boolean isPending() {
        return SequenceCells.read(takenCell) != delivered;
    }

    /** Waits until every batch taken before this call has been delivered, or the gate closed. */
    @Override
    public void awaitDelivery() {
        long target = SequenceCells.read(takenCell);
        for (int spins = 0; delivered < target && !closed; spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    /** Releases waiters for good (the reader stopped). */
    void close() {
        closed = true;
    }

    boolean isClosed() {
        return closed;
    }
}
