package org.memreg.monitor;

/**
 * Tells a registration cache when memory under its registrations changes: the user-space VM
 * notifier of shared/seeds/000. The cache {@link #start starts} it once, {@link #watch watches}
 * a range before registering it and {@link #unwatch unwatches} it before deregistering it; the
 * monitor calls the listener for every change to a watched range.
 *
 * <p>Watch counts are per page: overlapping watches are fine and a page stays watched until its
 * last watch goes. A cache owns its monitor and closes it when it closes.
 */
public interface MemoryMonitor extends AutoCloseable {
    /** A monitor that watches nothing: for memory that cannot change, or callers who invalidate. */
    MemoryMonitor NONE = new NoMonitor();

    /** A short name for logs, such as {@code "userfaultfd"}. */
    String name();

    /** The gate the cache's hit path checks (see {@link EventGate}). */
    EventGate gate();

    /** Starts delivering events to {@code listener}; called once. */
    void start(MemoryEventListener listener);

    /**
     * Starts watching {@code [address, address + length)} (page aligned).
     *
     * @return false when this range cannot be watched (for example memory the kernel will not
     *     let userfaultfd track); the caller then relies on explicit invalidation for it
     */
    boolean watch(long address, long length);

    /** Drops one watch of {@code [address, address + length)}; harmless for memory already gone. */
    void unwatch(long address, long length);

    /** Counters since start. */
    MonitorStats stats();

    /** Stops the reader and releases the kernel object; closing twice is harmless. */
    @Override
    void close();
}
