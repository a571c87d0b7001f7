package org.memreg.cli.bench;

import org.memreg.cache.CacheStats;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;

/**
 * Acquire + release of a set of buffers in a fixed order, timed: one pass over every buffer, a
 * warm-up of a quarter of the time, then the measured run. The clock is read once per batch.
 */
final class AcquireLoop {
    /**
     * What the measured run saw.
     *
     * @param operations        acquire + release pairs
     * @param nanosPerOperation wall time per pair
     * @param hitRate           hits over acquires, from the cache's counters
     */
    record Measured(long operations, double nanosPerOperation, double hitRate) {}

    private final RegistrationCache cache;
    private final long[] addresses;
    private final long length;
    private final int[] order;
    private int next;
    private long operations;

    private AcquireLoop(RegistrationCache cache, GuardedBuffers buffers, int[] order) {
        this.cache = cache;
        this.addresses = new long[buffers.count()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = buffers.address(i);
        }
        this.length = buffers.size();
        this.order = order;
    }

    /**
     * Measures {@code cache} on {@code buffers} taken in {@code order} (indices, repeated) for
     * {@code nanos} after the warm-up, then closes the cache.
     */
    static Measured measure(RegistrationCache cache, GuardedBuffers buffers, int[] order, int batch, long nanos,
                            Tracker tracker, String label) {
        try (cache) {
            AcquireLoop loop = new AcquireLoop(cache, buffers, order);
            for (long address : loop.addresses) {
                cache.acquire(address, loop.length, Access.LOCAL_WRITE).close();
            }
            loop.run(batch, new PointTimer(Tracker.NONE, label, nanos / 4));
            CacheStats before = cache.stats();
            long operationsBefore = loop.operations;
            PointTimer timer = new PointTimer(tracker, label, nanos);
            loop.run(batch, timer);
            CacheStats after = cache.stats();
            long operations = loop.operations - operationsBefore;
            long hits = after.hits() - before.hits();
            long misses = after.misses() - before.misses();
            return new Measured(operations, (double) timer.elapsed() / operations,
                    (double) hits / Math.max(1, hits + misses));
        }
    }

    private void run(int batch, PointTimer timer) {
        do {
            for (int k = 0; k < batch; k++) {
                cache.acquire(addresses[order[next]], length, Access.LOCAL_WRITE).close();
                next = next + 1 == order.length ? 0 : next + 1;
            }
            operations += batch;
        } while (timer.running());
    }
}
