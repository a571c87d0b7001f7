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
     *     let userfaultfd track): a cache then keeps no registration of it past its holder's
     *     release, for nothing would tell it that the memory changed
     */
    boolean watch(long address, long length);

    /** Drops one watch of {@code [address, address + length)}; harmless for memory already gone. */
    void unwatch(long address, long length);

    /**
     * Whether the cache must ask {@link #confirmHit} before it hands out a cached registration
     * (strict mode); false for the others, and then the cache never calls it.
     */
    default boolean confirmsHits() {
        return false;
    }

    /**
     * Strict mode: asks, on the hit path, whether the memory at {@code address} (the first page
     * of a cached registration) is still the memory that was watched and no event about it is
     * pending. Waits while one is being delivered.
     *
     * @return false when the registration must not be trusted
     */
    default boolean confirmHit(long address) {
        return true;
    }

    /** Counters since start. */
    MonitorStats stats();

    /** Stops the reader and releases the kernel object; closing twice is harmless. */
    @Override
    void close();
}
