package org.memreg.monitor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * Closes the window between the kernel waking a blocked munmap caller and the cache having acted
 * on its event (see shared/PLATFORM.md: the caller is woken when the reader <em>reads</em> the
 * event). The reader calls {@link #beforeRead()} before each read and {@link #afterDelivery()}
 * once it has passed the events on; a cache that sees {@link #isPending()} while looking up takes
 * the slow path and {@link #awaitDelivery() waits} for the events taken so far.
 *
 * <p>Two counters, written by the one reader thread: taken (batches read or about to be read)
 * and delivered. The hit path reads both: two plain loads on x86.
 */
public final class EventGate {
    /** A gate that never has anything pending, for caches without a monitor. */
    public static final EventGate NEVER = new EventGate();

    private static final VarHandle TAKEN;
    private static final VarHandle DELIVERED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TAKEN = lookup.findVarHandle(EventGate.class, "taken", long.class);
            DELIVERED = lookup.findVarHandle(EventGate.class, "delivered", long.class);
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
    public void beforeRead() {
        TAKEN.setVolatile(this, (long) TAKEN.getVolatile(this) + 1);
    }

    /** Reader: everything read so far has been delivered. */
    public void afterDelivery() {
        DELIVERED.setVolatile(this, (long) TAKEN.getVolatile(this));
    }

    /** True while events have been (or are being) read but not yet delivered. */
    public boolean isPending() {
        return (long) TAKEN.getVolatile(this) != (long) DELIVERED.getVolatile(this);
    }

    /** Waits until every event taken before this call has been delivered, or the gate closed. */
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

    /** Releases waiters for good (the monitor stopped). */
    public void close() {
        closed = true;
    }
}
