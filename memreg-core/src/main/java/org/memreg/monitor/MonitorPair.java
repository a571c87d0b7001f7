package org.memreg.monitor;

/**
 * Two monitors as one, for {@code hooks+userfaultfd}: the hooks hear of an unmap through libc
 * before it happens, userfaultfd of every unmap (raw system calls too) after it. Both watch every
 * range and report to the same cache; an event seen by both invalidates nothing the second time.
 */
final class MonitorPair implements MemoryMonitor {
    private final MemoryMonitor first;
    private final MemoryMonitor second;
    private final EventGate gate;

    MonitorPair(MemoryMonitor first, MemoryMonitor second) {
        this.first = first;
        this.second = second;
        this.gate = EventGate.both(first.gate(), second.gate());
    }

    @Override
    public String name() {
        return first.name() + "+" + second.name();
    }

    @Override
    public EventGate gate() {
        return gate;
    }

    @Override
    public void start(MemoryEventListener listener) {
        first.start(listener);
        second.start(listener);
    }

    @Override
    public boolean watch(long address, long length) {
        boolean firstWatches = first.watch(address, length);
        return second.watch(address, length) || firstWatches;
    }

    @Override
    public void unwatch(long address, long length) {
        second.unwatch(address, length);
        first.unwatch(address, length);
    }

    @Override
    public MonitorStats stats() {
        return first.stats().plus(second.stats());
    }

    /** Closes the userfaultfd side first: it releases threads blocked in munmap. */
    @Override
    public void close() {
        try {
            second.close();
        } finally {
            first.close();
        }
    }
}
