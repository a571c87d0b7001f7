package org.memreg.cache;

import java.util.List;
import java.util.function.LongSupplier;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.jfr.DeregistrationCause;
import org.memreg.jfr.DeregistrationEvent;
import org.memreg.jfr.EvictionEvent;
import org.memreg.jfr.MemregEvents;
import org.memreg.jfr.RegistrationEvent;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.util.PageCounts;

/**
 * The cache's side of the device and the monitor: registers (watching the range first, making
 * room within the limits, evicting and retrying while the device is exhausted) and deregisters
 * (unwatching first, so a device that unmaps cannot raise an event against itself).
 * Called under the cache's miss lock only, and so the keeper of what the device holds for the
 * cache, which only the miss path reads (the counters show it to everyone else).
 */
final class Registrar {
    private static final System.Logger LOG = System.getLogger(RegistrationCache.class.getName());

    private final Device device;
    private final MemoryMonitor monitor;
    private final Ledger ledger;
    private final RegionIndex index;
    private final EvictionOrder evictionOrder = new EvictionOrder();
    private final long maxBytes;
    private final long maxEntries;
    /** Go over the limits rather than fail when everything is held. */
    private final boolean softLimits;
    private final LongSupplier inUseBytes;
    /** Registrations the device holds for us (in the index, or retired but held). */
    private long liveEntries;
    /** The bytes of those. */
    private long liveBytes;
    /** The pages under them, each counted once however many registrations cover it. */
    private final PageCounts pinned = new PageCounts();
    /** Registrations made so far: the last one's number is its entry's id. */
    private long registrations;

    Registrar(RegistrationCacheBuilder settings, MemoryMonitor monitor, Ledger ledger, RegionIndex index,
              LongSupplier inUseBytes) {
        this.device = settings.device;
        this.monitor = monitor;
        this.ledger = ledger;
        this.index = index;
        this.maxBytes = settings.maxBytes;
        this.maxEntries = settings.maxEntries;
        this.softLimits = settings.softLimits;
        this.inUseBytes = inUseBytes;
    }

    /**
     * Registers {@code [start, start + length)} once there is room for it, as an entry held by
     * its caller and used at {@code now}; {@code replacing} are the index entries the new one
     * will replace (their unused bytes count as already gone).
     */
    Entry register(long start, long length, Access access, List<Entry> replacing, long now) {
        makeRoom(length, replacing);
        boolean watched = monitor.watch(start, length); // false: counted by the monitor
        try {
            MemoryRegion region = registerEvictingWhileExhausted(start, length, access);
            return new Entry(region, registrations, now, !watched);
        } catch (RuntimeException e) {
            monitor.unwatch(start, length);
            throw e;
        }
    }

    private void makeRoom(long length, List<Entry> replacing) {
        EvictionEvent event = MemregEvents.evictionBegin();
        long entries = 0;
        long bytes = 0;
        DeregistrationCause cause = DeregistrationCause.EVICTED_MAX_BYTES;
        try {
            while (overLimits(length, replacing)) {
                boolean overBytes = liveBytes - unusedBytes(replacing) > maxBytes - length;
                cause = overBytes ? DeregistrationCause.EVICTED_MAX_BYTES : DeregistrationCause.EVICTED_MAX_ENTRIES;
                long evicted = evictOne(cause);
                if (evicted < 0 && softLimits) {
                    break; // everything is held: over the limits until holders release
                }
                if (evicted < 0) {
                    throw exhausted(length, overBytes
                            ? "maxBytes " + Settings.formatBytes(maxBytes)
                            : "maxEntries " + maxEntries, null);
                }
                entries++;
                bytes += evicted;
                (overBytes ? ledger.evictionsMaxBytes : ledger.evictionsMaxEntries).addOrdered(1);
            }
        } finally {
            if (entries > 0) {
                MemregEvents.evictionEnd(event, cause, entries, bytes, length);
            }
        }
    }

    /**
     * True when a new registration of {@code length} would break {@code maxBytes} or
     * {@code maxEntries}, counting the unused entries it replaces as already gone.
     */
    private boolean overLimits(long length, List<Entry> replacing) {
        long goingEntries = replacing.stream().filter(Entry::isUnused).count();
        return liveBytes - unusedBytes(replacing) > maxBytes - length
                || liveEntries - goingEntries >= maxEntries;
    }

    private static long unusedBytes(List<Entry> entries) {
        long bytes = 0;
        for (Entry entry : entries) {
            if (entry.isUnused()) { // deregistered once the new one is in
                bytes += entry.length();
            }
        }
        return bytes;
    }

    private MemoryRegion registerEvictingWhileExhausted(long start, long length, Access access) {
        while (true) {
            long began = System.nanoTime();
            RegistrationEvent event = MemregEvents.registrationBegin();
            try {
                MemoryRegion region = device.register(start, length, access);
                registrations++;
                liveEntries++;
                liveBytes += region.length();
                pinned.increment(region.address(), region.end());
                ledger.registered(liveBytes, pinned.coveredBytes(), System.nanoTime() - began);
                MemregEvents.registrationEnd(event, start, length, access, device.name(), null);
                return region;
            } catch (ResourceExhaustedException e) {
                ledger.deviceNanos.addOrdered(System.nanoTime() - began);
                MemregEvents.registrationEnd(event, start, length, access, device.name(), e);
                EvictionEvent eviction = MemregEvents.evictionBegin();
                long evicted = evictOne(DeregistrationCause.EVICTED_DEVICE_LIMIT);
                if (evicted < 0) {
                    throw exhausted(length, "device " + device.name() + ": " + e.getMessage(), e);
                }
                MemregEvents.evictionEnd(eviction, DeregistrationCause.EVICTED_DEVICE_LIMIT, 1, evicted, length);
                ledger.evictionsDeviceLimit.addOrdered(1);
            } catch (RuntimeException e) {
                MemregEvents.registrationEnd(event, start, length, access, device.name(), e);
                throw e;
            }
        }
    }

    /** Evicts the least recently used unused entry; returns its bytes, -1 when there is none. */
    private long evictOne(DeregistrationCause cause) {
        Entry victim = evictionOrder.claimVictim(index);
        if (victim == null) {
            return -1;
        }
        index.remove(victim);
        deregister(victim, cause);
        return victim.length();
    }

    /** Evicts least recently used unused entries until {@code bytes} are freed; returns the bytes. */
    long trim(long bytes) {
        EvictionEvent event = MemregEvents.evictionBegin();
        long freed = 0;
        long entries = 0;
        for (long evicted; freed < bytes && (evicted = evictOne(DeregistrationCause.TRIMMED)) >= 0; entries++) {
            ledger.trimmed.addOrdered(1);
            freed += evicted;
        }
        if (entries > 0) {
            MemregEvents.evictionEnd(event, DeregistrationCause.TRIMMED, entries, freed, bytes);
        }
        return freed;
    }

    void deregister(Entry entry, DeregistrationCause cause) {
        long began = System.nanoTime();
        DeregistrationEvent event = MemregEvents.deregistrationBegin();
        try {
            monitor.unwatch(entry.start, entry.length());
            device.deregister(entry.region);
        } catch (RuntimeException e) {
            // The region counts as released either way; the device said why it could not.
            LOG.log(System.Logger.Level.WARNING, "device " + device.name() + " failed to deregister " + entry, e);
        } finally {
            liveEntries--;
            liveBytes -= entry.length();
            pinned.decrement(entry.start, entry.end);
            ledger.deregistered(liveBytes, pinned.coveredBytes(), System.nanoTime() - began);
            MemregEvents.deregistrationEnd(event, entry.start, entry.length(), device.name(), cause);
        }
    }

    private ResourceExhaustedException exhausted(long length, String limit, Throwable cause) {
        return new ResourceExhaustedException(String.format(
                "cannot register %s: %s pinned in %d registrations, %s in use, nothing unused to evict; limit: %s",
                Settings.formatBytes(length), Settings.formatBytes(liveBytes), liveEntries,
                Settings.formatBytes(inUseBytes.getAsLong()), limit), cause);
    }

    /** Registrations made so far; the latest one's number is the id of the entry made for it. */
    long registrations() {
        return registrations;
    }

    /** Registrations the device holds for the cache now. */
    long liveEntries() {
        return liveEntries;
    }

    void clear() {
        evictionOrder.clear();
    }
}
