package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The hooks' gate: pending while the C handler's sequence differs from the sequence the cache
 * has applied. One acquire load of native memory and one of a field on the hit path; when they
 * differ, {@link #awaitDelivery()} drains the ring on the calling thread.
 */
final class HookGate extends EventGate {
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final long SEQUENCE = HookLibrary.SEQUENCE;

    private final HookMonitor monitor;
    /** The shared struct; reading it after the monitor closed throws instead of touching freed memory. */
    private final MemorySegment state;
    private volatile long applied;

    HookGate(HookMonitor monitor, MemorySegment state) {
        this.monitor = monitor;
        this.state = state;
    }

    @Override
    public boolean isPending() {
        try {
            return (long) LONG.getAcquire(state, SEQUENCE) != applied;
        } catch (IllegalStateException closed) {
            return false; // the monitor closed with its cache; the cache reports that itself
        }
    }

    @Override
    public void awaitDelivery() {
        monitor.drain();
    }

    /** The drain applied everything up to {@code sequence} (after its invalidations). */
    void applied(long sequence) {
        applied = sequence;
    }
}
