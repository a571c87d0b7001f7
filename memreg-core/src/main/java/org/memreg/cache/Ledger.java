package org.memreg.cache;

import org.memreg.device.MemoryRegion;
import org.memreg.stat.Counter;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSet;
import org.memreg.util.PageCounts;

/**
 * The cache's counters: slots of its {@link CounterSet} (in the process's counters file, or in
 * ordinary memory), written where the counting happens and read by {@link RegistrationCache#stats()}
 * and {@code memreg stat} without a lock. Counters written only under the miss lock are written
 * with ordered stores ({@link Counter#addOrdered}); those the monitor's event thread writes as well
 * (invalidations, the queue) atomically. Hits, and the gauges summed over the entries, are not
 * counted here (see {@link HitTally}, {@link RegistrationCache#stats()}): the publisher thread
 * refreshes their slots.
 */
final class Ledger {
    final Counter hits;
    final Counter misses;
    final Counter registrations;
    final Counter deregistrations;
    final Counter evictionsDeviceLimit;
    final Counter evictionsMaxBytes;
    final Counter evictionsMaxEntries;
    final Counter trimmed;
    final Counter replaced;
    /** Invalidations of every cause: atomic, the event thread adds its own too. */
    final Counter invalidations;
    final Counter eventInvalidations;
    final Counter queuedInvalidations;
    final Counter maxQueuedInvalidations;
    final Counter deferredDeregistrations;
    final Counter entries;
    final Counter retiredEntries;
    final Counter registeredBytes;
    final Counter pinnedBytes;
    final Counter inUseBytes;
    final Counter deviceNanos;
    /** Under the miss lock: registrations the device holds for us (in the index or retired but held). */
    long liveEntries;
    /** Under the miss lock: the bytes of those ({@link #registeredBytes}'s value, read without a load). */
    long liveBytes;
    /** Under the miss lock: the pages under live registrations, each counted once however many cover it. */
    final PageCounts pinned = new PageCounts();

    Ledger(CounterSet set) {
        hits = set.counter(CounterId.HITS);
        misses = set.counter(CounterId.MISSES);
        registrations = set.counter(CounterId.REGISTRATIONS);
        deregistrations = set.counter(CounterId.DEREGISTRATIONS);
        evictionsDeviceLimit = set.counter(CounterId.EVICTIONS_DEVICE_LIMIT);
        evictionsMaxBytes = set.counter(CounterId.EVICTIONS_MAX_BYTES);
        evictionsMaxEntries = set.counter(CounterId.EVICTIONS_MAX_ENTRIES);
        trimmed = set.counter(CounterId.TRIMMED);
        replaced = set.counter(CounterId.REPLACED);
        invalidations = set.counter(CounterId.INVALIDATIONS);
        eventInvalidations = set.counter(CounterId.EVENT_INVALIDATIONS);
        queuedInvalidations = set.counter(CounterId.QUEUED_INVALIDATIONS);
        maxQueuedInvalidations = set.counter(CounterId.MAX_QUEUED_INVALIDATIONS);
        deferredDeregistrations = set.counter(CounterId.DEFERRED_DEREGISTRATIONS);
        entries = set.counter(CounterId.ENTRIES);
        retiredEntries = set.counter(CounterId.RETIRED_ENTRIES);
        registeredBytes = set.counter(CounterId.REGISTERED_BYTES);
        pinnedBytes = set.counter(CounterId.PINNED_BYTES);
        inUseBytes = set.counter(CounterId.IN_USE_BYTES);
        deviceNanos = set.counter(CounterId.DEVICE_NANOS);
    }

    /** Under the miss lock. */
    void registered(MemoryRegion region, long nanos) {
        liveEntries++;
        liveBytes += region.length();
        pinned.increment(region.address(), region.end());
        registrations.addOrdered(1);
        registeredBytes.setOrdered(liveBytes);
        pinnedBytes.setOrdered(pinned.coveredBytes());
        deviceNanos.addOrdered(nanos);
    }

    /** Under the miss lock. */
    void deregistered(Entry entry, long nanos) {
        liveEntries--;
        liveBytes -= entry.length();
        pinned.decrement(entry.start, entry.end);
        deregistrations.addOrdered(1);
        pinnedBytes.setOrdered(pinned.coveredBytes());
        registeredBytes.setOrdered(liveBytes);
        deviceNanos.addOrdered(nanos);
    }

    /** The statistics with the derived values given; every counter read once, without a lock. */
    CacheStats snapshot(long hitCount, long entryCount, long retiredCount, long inUse) {
        return new CacheStats(hitCount, misses.get(), registrations.get(), deregistrations.get(),
                evictionsDeviceLimit.get(), evictionsMaxBytes.get(), evictionsMaxEntries.get(), trimmed.get(),
                replaced.get(), invalidations.get(), eventInvalidations.get(), queuedInvalidations.get(),
                maxQueuedInvalidations.get(), deferredDeregistrations.get(), entryCount, retiredCount,
                registeredBytes.get(), pinnedBytes.get(), inUse, deviceNanos.get());
    }
}
