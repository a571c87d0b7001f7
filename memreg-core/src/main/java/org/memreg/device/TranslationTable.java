package org.memreg.device;

import java.util.concurrent.ConcurrentHashMap;
import org.memreg.util.Keys;
import org.memreg.util.PageCounts;

/**
 * The {@link SimulatedNic}'s translation table: regions by local and by remote key, with a
 * finite number of page entries and regions. Lookups (the DMA path) take no lock; changes are
 * serialised. Overlapping regions take separate entries, as on a real NIC, while
 * {@link #registeredBytes()} counts each page once.
 */
final class TranslationTable {
    private final long maxPages;
    private final long maxRegions;
    private final ConcurrentHashMap<Long, NicRegion> byLocalKey = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, NicRegion> byRemoteKey = new ConcurrentHashMap<>();
    private final PageCounts distinctPages = new PageCounts();
    private long pages;
    private boolean closed;

    TranslationTable(long maxPages, long maxRegions) {
        this.maxPages = maxPages;
        this.maxRegions = maxRegions;
    }

    /** Adds a region with fresh keys, or throws when the table is full (nothing added). */
    synchronized NicRegion add(long address, long length, Access access, long[] frames) {
        if (closed) {
            throw new DeviceException("simulated NIC is closed");
        }
        if (byLocalKey.size() >= maxRegions) {
            throw new ResourceExhaustedException(String.format(
                    "simulated NIC translation table full: %d of %d regions used", byLocalKey.size(), maxRegions));
        }
        if (frames.length > maxPages - pages) {
            throw new ResourceExhaustedException(String.format(
                    "simulated NIC translation table full: %d of %d page entries used, %d more requested",
                    pages, maxPages, frames.length));
        }
        NicRegion region = new NicRegion(address, length, access, freshKey(), freshKey(), frames);
        byLocalKey.put(region.localKey(), region);
        byRemoteKey.put(region.remoteKey(), region);
        distinctPages.increment(address, address + length);
        pages += frames.length;
        return region;
    }

    /** Removes the region; false when it is not (or no longer) in the table. */
    synchronized boolean remove(MemoryRegion region) {
        if (!(region instanceof NicRegion nic) || !byLocalKey.remove(nic.localKey(), nic)) {
            return false;
        }
        byRemoteKey.remove(nic.remoteKey());
        distinctPages.decrement(nic.address(), nic.end());
        pages -= nic.pages();
        return true;
    }

    /** Removes every region and refuses new ones. */
    synchronized void close() {
        closed = true;
        byLocalKey.clear();
        byRemoteKey.clear();
        distinctPages.clear();
        pages = 0;
    }

    /** The live region with this local key, or null. */
    NicRegion byLocalKey(long key) {
        return byLocalKey.get(key);
    }

    /** The live region with this remote key, or null. */
    NicRegion byRemoteKey(long key) {
        return byRemoteKey.get(key);
    }

    synchronized long registeredBytes() {
        return distinctPages.coveredBytes();
    }

    synchronized long pages() {
        return pages;
    }

    synchronized long regions() {
        return byLocalKey.size();
    }

    // Unique over both key spaces, so a key names one region whichever way it is presented.
    private long freshKey() {
        long key;
        do {
            key = Keys.next();
        } while (byLocalKey.containsKey(key) || byRemoteKey.containsKey(key));
        return key;
    }
}
