package org.memreg.cache;

import java.util.List;
import java.util.function.LongSupplier;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.monitor.MemoryMonitor;

/**
 * The cache's side of the device and the monitor: registers (watching the range first, making
 * room within the limits, evicting and retrying while the device is exhausted) and deregisters
 * (unwatching first, so a device that unmaps cannot raise an event against itself).
 * Called under the cache's miss lock only.
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
    private final LongSupplier inUseBytes;

    Registrar(RegistrationCacheBuilder settings, MemoryMonitor monitor, Ledger ledger, RegionIndex index,
              LongSupplier inUseBytes) {
        this.device = settings.device;
        this.monitor = monitor;
        this.ledger = ledger;
        this.index = index;
        this.maxBytes = settings.maxBytes;
        this.maxEntries = settings.maxEntries;
        this.inUseBytes = inUseBytes;
    }

    /**
     * Registers {@code [start, start + length)} once there is room for it; {@code replacing} are
     * the index entries the new one will replace (their unused bytes count as already gone).
     */
    MemoryRegion register(long start, long length, Access access, List<Entry> replacing) {
        makeRoom(length, replacing);
        monitor.watch(start, length); // false: the monitor counts it; explicit invalidation still works
        try {
            return registerEvictingWhileExhausted(start, length, access);
        } catch (RuntimeException e) {
            monitor.unwatch(start, length);
            throw e;
        }
    }

    private void makeRoom(long length, List<Entry> replacing) {
        while (true) {
            long goingBytes = 0;
            int goingEntries = 0;
            for (Entry entry : replacing) {
                if (entry.isUnused()) { // deregistered once the new one is in
                    goingBytes += entry.length();
                    goingEntries++;
                }
            }
            boolean overBytes = ledger.registeredBytes - goingBytes > maxBytes - length;
            boolean overEntries = ledger.liveEntries - goingEntries >= maxEntries;
            if (!overBytes && !overEntries) {
                return;
            }
            if (!evictOne()) {
                throw exhausted(length, overBytes
                        ? "maxBytes " + Settings.formatBytes(maxBytes)
                        : "maxEntries " + maxEntries, null);
            }
            if (overBytes) {
                ledger.evictionsMaxBytes++;
            } else {
                ledger.evictionsMaxEntries++;
            }
        }
    }

    private MemoryRegion registerEvictingWhileExhausted(long start, long length, Access access) {
        while (true) {
            long began = System.nanoTime();
            try {
                MemoryRegion region = device.register(start, length, access);
                ledger.registered(region, System.nanoTime() - began);
                return region;
            } catch (ResourceExhaustedException e) {
                ledger.deviceNanos += System.nanoTime() - began;
                if (!evictOne()) {
                    throw exhausted(length, "device " + device.name() + ": " + e.getMessage(), e);
                }
                ledger.evictionsDeviceLimit++;
            }
        }
    }

    /** Evicts the least recently used unused entry; false when there is none. */
    boolean evictOne() {
        Entry victim = evictionOrder.claimVictim(index);
        if (victim == null) {
            return false;
        }
        index.remove(victim);
        deregister(victim);
        return true;
    }

    /** Evicts least recently used unused entries until {@code bytes} are freed; returns the bytes. */
    long trim(long bytes) {
        long freed = 0;
        while (freed < bytes) {
            Entry victim = evictionOrder.claimVictim(index);
            if (victim == null) {
                break;
            }
            index.remove(victim);
            deregister(victim);
            ledger.trimmed++;
            freed += victim.length();
        }
        return freed;
    }

    void deregister(Entry entry) {
        long began = System.nanoTime();
        try {
            monitor.unwatch(entry.start, entry.length());
            device.deregister(entry.region);
        } catch (RuntimeException e) {
            // The region counts as released either way; the device said why it could not.
            LOG.log(System.Logger.Level.WARNING, "device " + device.name() + " failed to deregister " + entry, e);
        } finally {
            ledger.deregistered(entry, Entry.hits(entry.state()), System.nanoTime() - began);
        }
    }

    private ResourceExhaustedException exhausted(long length, String limit, Throwable cause) {
        return new ResourceExhaustedException(String.format(
                "cannot register %s: %s pinned in %d registrations, %s in use, nothing unused to evict; limit: %s",
                Settings.formatBytes(length), Settings.formatBytes(ledger.registeredBytes), ledger.liveEntries,
                Settings.formatBytes(inUseBytes.getAsLong()), limit), cause);
    }

    void clear() {
        evictionOrder.clear();
    }
}
