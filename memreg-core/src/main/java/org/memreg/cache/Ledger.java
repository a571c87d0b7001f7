package org.memreg.cache;

import org.memreg.device.MemoryRegion;
import org.memreg.util.PageCounts;

/**
 * The cache's counters and gauges that change only under its miss lock (hits are counted apart,
 * without a lock). Plain fields: {@link RegistrationCache#stats()} reads them under the lock too.
 */
final class Ledger {
    long misses;
    long registrations;
    long deregistrations;
    long evictionsDeviceLimit;
    long evictionsMaxBytes;
    long evictionsMaxEntries;
    long trimmed;
    long replaced;
    /** Invalidations by {@code invalidate} and of entries caught changing while registering. */
    long invalidations;
    long deferredDeregistrations;
    long deviceNanos;
    /** Registrations the device holds for us: in the index or retired but held. */
    long liveEntries;
    long registeredBytes;
    /** The pages under live registrations, each counted once however many registrations cover it. */
    final PageCounts pinned = new PageCounts();
    /** Hits counted by entries that have since been deregistered. */
    long hitsOfDeregistered;

    void registered(MemoryRegion region, long nanos) {
        registrations++;
        liveEntries++;
        registeredBytes += region.length();
        pinned.increment(region.address(), region.end());
        deviceNanos += nanos;
    }

    void deregistered(Entry entry, long hits, long nanos) {
        deregistrations++;
        hitsOfDeregistered += hits;
        liveEntries--;
        registeredBytes -= entry.length();
        pinned.decrement(entry.start, entry.end);
        deviceNanos += nanos;
    }

    CacheStats snapshot(long hits, long eventInvalidations, long queuedInvalidations, long maxQueuedInvalidations,
                        long entries, long retiredEntries, long inUseBytes) {
        return new CacheStats(hits, misses, registrations, deregistrations, evictionsDeviceLimit,
                evictionsMaxBytes, evictionsMaxEntries, trimmed, replaced, invalidations + eventInvalidations,
                eventInvalidations, queuedInvalidations, maxQueuedInvalidations, deferredDeregistrations, entries,
                retiredEntries, registeredBytes, pinned.coveredBytes(), inUseBytes, deviceNanos);
    }
}
