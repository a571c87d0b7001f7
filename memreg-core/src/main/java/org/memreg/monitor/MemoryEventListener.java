package org.memreg.monitor;

/**
 * Receives memory events from a {@link MemoryMonitor}: implemented by the registration cache.
 *
 * <p>Called on the monitor's reader thread, which the kernel may be waiting on while an
 * application thread sits blocked in munmap or madvise: an implementation must not block, must
 * not take a lock that any other thread may hold while it waits for the kernel (at most a
 * {@code tryLock}), and must never unmap or touch watched memory itself.
 */
@FunctionalInterface
public interface MemoryEventListener {
    /**
     * {@code [start, end)} changed for {@code kind}; {@code takenNanos} is when the monitor took
     * the event from the kernel ({@link System#nanoTime()}).
     */
    void onMemoryEvent(MemoryEventKind kind, long start, long end, long takenNanos);
}
