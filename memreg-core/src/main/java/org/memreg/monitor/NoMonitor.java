package org.memreg.monitor;

/** {@link MemoryMonitor#NONE}: watches nothing, never has events. */
final class NoMonitor implements MemoryMonitor {
    @Override
    public String name() {
        return "none";
    }

    @Override
    public EventGate gate() {
        return EventGate.NEVER;
    }

    @Override
    public void start(MemoryEventListener listener) {
    }

    @Override
    public boolean watch(long address, long length) {
        return true; // nothing to do: the caller chose to invalidate explicitly
    }

    @Override
    public void unwatch(long address, long length) {
    }

    @Override
    public MonitorStats stats() {
        return MonitorStats.EMPTY;
    }

    @Override
    public void close() {
    }
}
