package org.memreg.monitor;

/**
 * A monitor whose events the test sends, with the gate a real reader raises around them: {@link
 * #take()} is the reader having read an event from the kernel (the unmapping thread is already
 * awake), {@link #deliver} is the reader handing it to the cache.
 */
public final class ScriptedMonitor implements MemoryMonitor {
    private final long takenCell = SequenceCells.claim();
    private final ReaderGate gate = new ReaderGate(takenCell);
    private volatile MemoryEventListener listener;

    /** The reader took an event: from now until {@link #deliver} it is pending. */
    public void take() {
        SequenceCells.increment(takenCell);
    }

    /** The reader delivers the event it took. */
    public void deliver(MemoryEventKind kind, long start, long end) {
        listener.onMemoryEvent(kind, start, end, System.nanoTime());
        gate.delivered(SequenceCells.read(takenCell));
    }

    @Override
    public String name() {
        return "scripted";
    }

    @Override
    public EventGate gate() {
        return gate;
    }

    @Override
    public void start(MemoryEventListener listener) {
        this.listener = listener;
    }

    @Override
    public boolean watch(long address, long length) {
        return true;
    }

    @Override
    public void unwatch(long address, long length) {
    }

    @Override
    public MonitorStats stats() {
        return MonitorStats.EMPTY;
    }

    @Override
    public synchronized void close() {
        if (!gate.isClosed()) {
            gate.close();
            SequenceCells.release(takenCell);
        }
    }
}
