package org.memreg.monitor;

/**
 * Receives memory events from a {@link MemoryMonitor}: implemented by the registration cache.
 *
 * <p>Called on the monitor's delivery thread, or on a cache thread that finds events pending and
 * delivers them itself (the hooks' drain, the userfaultfd gate), one call at a time per monitor;
 * other threads may wait at the gate meanwhile: an implementation must not block, must not take a
 * lock that another thread may hold while it waits for the gate (at most a {@code tryLock}), and
 * must never unmap or touch watched memory itself. (A free that glibc turns into a trim of watched
 * pages only waits for the monitor's reader, which waits for no Java thread.)
 */
@FunctionalInterface
public interface MemoryEventListener {
    /**
     * {@code [start, end)} changed for {@code kind}; {@code takenNanos} is when the monitor took
     * the event from the kernel ({@link System#nanoTime()}).
     */
    void onMemoryEvent(MemoryEventKind kind, long start, long end, long takenNanos);
}
