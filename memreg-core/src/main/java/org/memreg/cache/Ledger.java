package org.memreg.cache;

import org.memreg.stat.Counter;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSet;

/**
 * The cache's counters: slots of its {@link CounterSet} (in the process's counters file, or in
 * ordinary memory), written where the counting happens and read by {@link RegistrationCache#stats()}
 * and {@code memreg stat} without a lock. Counters written only under the miss lock are written
 * with ordered stores ({@link Counter#addOrdered}); those the monitor's event thread writes as well
 * (invalidations, the queue) atomically. Hits, and the gauges summed over the entries, are not
 * counted here (see {@link EntryTally}): the publisher thread refreshes their slots.
 *
 * <p>Read-only once made, and holding nothing the miss path changes, unlike the figures the miss
 * path keeps for itself ({@link Registrar}): {@link RegistrationCache#stats()} reads through it in
 * a loop if its caller likes, and a line shared with a field every miss writes would cost every
 * miss a transfer of that line (BENCHMARKS.md, issue 13).
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

    /** Under the miss lock: a registration that took {@code nanos}, and what the device holds now. */
    void registered(long liveBytes, long pinned, long nanos) {
        registrations.addOrdered(1);
        registeredBytes.setOrdered(liveBytes);
        pinnedBytes.setOrdered(pinned);
        deviceNanos.addOrdered(nanos);
    }

    /** Under the miss lock: a deregistration that took {@code nanos}, and what the device holds now. */
    void deregistered(long liveBytes, long pinned, long nanos) {
        deregistrations.addOrdered(1);
        registeredBytes.setOrdered(liveBytes);
        pinnedBytes.setOrdered(pinned);
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
