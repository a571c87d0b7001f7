package org.memreg.cache;

/**
 * A snapshot of a {@link RegistrationCache}'s counters. Counters (hits, misses, ...) only grow
 * from the cache's creation; gauges (entries, bytes) are the state at the moment of the call.
 * Taken without stopping the cache, so concurrent operations may be half reflected.
 *
 * @param hits                    acquires served from a cached registration
 * @param misses                  acquires that had to register
 * @param registrations           successful device registrations
 * @param deregistrations         device deregistrations (all causes)
 * @param evictionsDeviceLimit    unused entries deregistered because the device was exhausted
 * @param evictionsMaxBytes       unused entries deregistered to stay within {@code maxBytes}
 * @param evictionsMaxEntries     unused entries deregistered to stay within {@code maxEntries}
 * @param trimmed                 unused entries deregistered by {@code trim}
 * @param replaced                entries taken out of the index by a merge or access upgrade
 * @param invalidations           entries invalidated because their memory changed (all causes)
 * @param eventInvalidations      of those, invalidated by the monitor's memory events
 * @param queuedInvalidations     event invalidations waiting for the lock to leave the index
 * @param maxQueuedInvalidations  the most that ever waited at once
 * @param deferredDeregistrations in-use entries deregistered later, when their last holder released
 * @param entries                 registrations in the index (findable by acquire)
 * @param retiredEntries          registrations out of the index but still held
 * @param registeredBytes         bytes of every live registration (index and retired), overlapping
 *                                registrations each counting their own
 * @param pinnedBytes             bytes of the distinct pages under the live registrations: overlapping
 *                                registrations count once, as the device pins them; at most
 *                                {@code registeredBytes}
 * @param inUseBytes              bytes of registrations with at least one holder
 * @param deviceNanos             time spent in device register and deregister calls
 */
public record CacheStats(
        long hits,
        long misses,
        long registrations,
        long deregistrations,
        long evictionsDeviceLimit,
        long evictionsMaxBytes,
        long evictionsMaxEntries,
        long trimmed,
        long replaced,
        long invalidations,
        long eventInvalidations,
        long queuedInvalidations,
        long maxQueuedInvalidations,
        long deferredDeregistrations,
        long entries,
        long retiredEntries,
        long registeredBytes,
        long pinnedBytes,
        long inUseBytes,
        long deviceNanos) {

    /** Evictions of every cause, trims excluded. */
    public long evictions() {
        return evictionsDeviceLimit + evictionsMaxBytes + evictionsMaxEntries;
    }

    /** Bytes registered with no holder: what eviction and {@code trim} can give back. */
    public long unusedBytes() {
        return registeredBytes - inUseBytes;
    }

    /** Hits over all acquires, 0 when there were none. */
    public double hitRate() {
        long total = hits + misses;
        return total == 0 ? 0 : (double) hits / total;
    }
}
