package org.memreg.monitor;

import java.util.concurrent.locks.LockSupport;

/**
 * The userfaultfd reader's gate. Closes the window between the kernel waking a blocked munmap
 * caller and the cache having acted on its event (see shared/PLATFORM.md: the caller is woken
 * when the reader <em>reads</em> the event). The native reader raises the count of batches
 * taken, in a {@link SequenceCells cell}, before each read; whoever drains the batches (the
 * delivery thread, or a waiter) calls {@link #delivered} once it has passed their events on. A
 * cache that sees {@link #isPending()} while looking up takes the slow path and
 * {@link #awaitDelivery() delivers}, or waits for, the batches taken so far.
 *
 * <p>The hit path reads the cell (an acquire load of native memory that is never freed) and one
 * field: two plain loads on x86.
 */
final class ReaderGate extends EventGate {
    private final long takenCell;
    /** Delivers what was taken on the calling thread, or returns when another thread does; may be null. */
    private final Runnable deliver;
    private volatile long delivered; // written under the deliverer's lock
    private volatile boolean closed;

    /** A gate whose waiters only wait (for a test's scripted reader). */
    ReaderGate(long takenCell) {
        this(takenCell, null);
    }

    ReaderGate(long takenCell, Runnable deliver) {
        this.takenCell = takenCell;
        this.deliver = deliver;
    }

    /** The first {@code batches} batches have been delivered (one thread at a time, in order). */
    void delivered(long batches) {
        delivered = batches;
    }

    @Override
    public boolean isPending() {
        return SequenceCells.read(takenCell) != delivered;
    }

    /**
     * Returns once every batch taken before this call has been delivered (here, rather than after
     * the delivery thread's wake-up, where a deliverer is set), or the gate closed.
     */
    @Override
    public void awaitDelivery() {
        long target = SequenceCells.read(takenCell);
        if (deliver != null && delivered < target && !closed) {
            deliver.run();
        }
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
