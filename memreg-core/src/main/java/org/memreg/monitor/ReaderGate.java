package org.memreg.monitor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The userfaultfd reader's gate. Closes the window between the kernel waking a blocked munmap
 * caller and the cache having acted on its event (see shared/PLATFORM.md: the caller is woken
 * when the reader <em>reads</em> the event). The reader calls {@link #beforeRead()} before each
 * read and {@link #afterDelivery()} once it has passed the events on; a cache that sees
 * {@link #isPending()} while looking up takes the slow path and {@link #awaitDelivery() waits}
 * for the events taken so far.
 *
 * <p>Two counters, written by the one reader thread: taken (batches read or about to be read)
 * and delivered. The hit path reads both: two plain loads on x86.
 */
final class ReaderGate extends EventGate {
    private static final VarHandle TAKEN;
    private static final VarHandle DELIVERED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TAKEN = lookup.findVarHandle(ReaderGate.class, "taken", long.class);
            DELIVERED = lookup.findVarHandle(ReaderGate.class, "delivered", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through TAKEN
    private volatile long taken;
    @SuppressWarnings("unused") // accessed through DELIVERED
    private volatile long delivered;
    private volatile boolean closed;

    /** Reader: about to read events that may wake blocked callers; publish that first. */
    void beforeRead() {
        TAKEN.setVolatile(this, (long) TAKEN.getVolatile(this) + 1);
    }

    /** Reader: everything read so far has been delivered. */
    void afterDelivery() {
        DELIVERED.setVolatile(this, (long) TAKEN.getVolatile(this));
    }

    @Override
    public boolean isPending() {
        return (long) TAKEN.getVolatile(this) != (long) DELIVERED.getVolatile(this);
    }

    /** Waits until every event taken before this call has been delivered, or the gate closed. */
    @Override
    public void awaitDelivery() {
        long target = (long) TAKEN.getVolatile(this);
        for (int spins = 0; (long) DELIVERED.getVolatile(this) < target && !closed; spins++) {
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
}
