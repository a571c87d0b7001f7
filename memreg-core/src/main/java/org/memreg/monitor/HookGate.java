package org.memreg.monitor;

/**
 * The hooks' gate: pending while the C handler's sequence differs from the sequence the cache
 * has applied. One acquire load of native memory ({@link SequenceCells}, never freed, so no
 * check that the monitor is open) and one of a field on the hit path; when they differ,
 * {@link #awaitDelivery()} drains the ring on the calling thread.
 */
final class HookGate extends EventGate {
    private final HookMonitor monitor;
    private final long sequenceCell;
    private volatile long applied;

    HookGate(HookMonitor monitor, long sequenceCell) {
        this.monitor = monitor;
        this.sequenceCell = sequenceCell;
    }

    @Override
    public boolean isPending() {
        return SequenceCells.read(sequenceCell) != applied;
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
