package org.memreg.cache;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.ResourceExhaustedException;

/**
 * A registration cache: makes repeated registration of the same buffers nearly free, never hands
 * out a stale registration, and stays inside its pinning budget (Open MPI / UCX rcache semantics).
 *
 * <ul>
 *   <li><b>Hit/miss.</b> {@link #acquire} returns a {@link Registration} covering the page-rounded
 *       range with at least the access asked for. A cached registration that covers it is a hit:
 *       one more holder, no device call, no lock. Otherwise the device registers it (a miss).
 *   <li><b>Overlap.</b> A request partly overlapping cached registrations registers anew (the
 *       union, when merging); the overlapped ones leave the index, unused ones are deregistered,
 *       held ones stay valid for their holders and are deregistered when the last one releases.
 *   <li><b>Lazy deregistration.</b> Releasing the last holder keeps the registration cached.
 *   <li><b>Eviction.</b> When the device is exhausted, or {@code maxBytes}/{@code maxEntries}
 *       would be exceeded, the least recently used unused registrations are deregistered one at
 *       a time until the new one fits; a held registration is never evicted.
 *   <li><b>Invalidation.</b> {@link #invalidate} removes every overlapping registration from the
 *       index at once; unused ones are deregistered now, held ones when released, and their
 *       {@link Registration#isValid()} turns false.
 * </ul>
 *
 * <p>Thread-safe. Hits and releases take no lock; misses, invalidation, trimming and closing
 * serialise on one lock, which is also held across the device call so that two threads missing
 * on the same buffer register it once. Closing deregisters everything, held or not; the device
 * itself stays open (it belongs to the caller).
 */
public final class RegistrationCache implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RegistrationCache.class.getName());

    private final Device device;
    private final long pageMask;
    private final long maxBytes;
    private final long maxEntries;
    private final boolean merge;
    private final LongSupplier clock;
    private final RegionIndex index = new RegionIndex();
    private final EvictionOrder evictionOrder = new EvictionOrder();
    private final Set<Entry> retired = Collections.newSetFromMap(new IdentityHashMap<>());
    private final ReentrantLock lock = new ReentrantLock();
    /** Hits drained from entries whose own counters filled up (see {@link Entry#HITS_DRAIN_AT}). */
    private final AtomicLong drainedHits = new AtomicLong();
    private final Ledger ledger = new Ledger();
    private volatile boolean closed;
    private long nextId;

    RegistrationCache(RegistrationCacheBuilder builder) {
        this.device = builder.device;
        this.pageMask = builder.device.pageSize() - 1;
        this.maxBytes = builder.maxBytes;
        this.maxEntries = builder.maxEntries;
        this.merge = builder.merge;
        this.clock = builder.clock;
    }

    /** Starts configuring a cache over {@code device}. */
    public static RegistrationCacheBuilder builder(Device device) {
        return new RegistrationCacheBuilder(device);
    }

    /**
     * Returns a registration covering {@code [address, address + length)} rounded out to pages,
     * with at least {@code access}. Close it when the transfer is done.
     *
     * @throws IllegalArgumentException when length is not positive or the range overflows
     * @throws IllegalStateException when the cache is closed
     * @throws ResourceExhaustedException when it does not fit even after evicting every unused
     *     registration; the message names the bytes pinned, in use, and the limit
     * @throws org.memreg.device.DeviceException when the device refuses the range (for example
     *     {@link org.memreg.device.UnmappedMemoryException}); the cache is unchanged
     */
    public Registration acquire(long address, long length, Access access) {
        checkRange(address, length);
        long start = address & ~pageMask;
        long end = (address + length + pageMask) & ~pageMask;
        Entry entry = index.find(start, end, access);
        if (entry != null) {
            long before = entry.tryAcquire();
            if (before >= 0) {
                if (Entry.hits(before) + 1 >= Entry.HITS_DRAIN_AT) {
                    drainHits(entry);
                }
                return new Registration(this, entry);
            }
        }
        return miss(start, end, access);
    }

    /** Once per 2^36 hits on one entry: move its count out before the field overflows. */
    private void drainHits(Entry entry) {
        entry.drainHits(Entry.HITS_DRAIN_AT);
        drainedHits.addAndGet(Entry.HITS_DRAIN_AT);
    }

    /** {@link #acquire(long, long, Access)} for a native segment's range. */
    public Registration acquire(MemorySegment segment, Access access) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("only native (off-heap) memory can be registered: " + segment);
        }
        return acquire(segment.address(), segment.byteSize(), access);
    }

    private Registration miss(long start, long end, Access access) {
        lock.lock();
        try {
            ensureOpen();
            Entry cached = index.find(start, end, access); // another thread may have registered it
            if (cached != null) {
                long before = cached.tryAcquire();
                if (before >= 0) {
                    if (Entry.hits(before) + 1 >= Entry.HITS_DRAIN_AT) {
                        drainHits(cached);
                    }
                    return new Registration(this, cached);
                }
            }
            ledger.misses++;
            List<Entry> overlapping = index.overlapping(start, end);
            long regStart = start;
            long regEnd = end;
            Access regAccess = access;
            if (merge) {
                for (Entry entry : overlapping) {
                    regStart = Math.min(regStart, entry.start);
                    regEnd = Math.max(regEnd, entry.end);
                    regAccess = regAccess.with(entry.access);
                }
            }
            makeRoom(regEnd - regStart, overlapping);
            Entry created = new Entry(register(regStart, regEnd - regStart, regAccess), nextId++, clock.getAsLong());
            for (Entry replaced : overlapping) {
                if ((replaced.state() & Entry.DEAD) == 0) { // not evicted while making room
                    retire(replaced, 0);
                    ledger.replaced++;
                }
            }
            index.add(created);
            return new Registration(this, created);
        } finally {
            lock.unlock();
        }
    }

    /** Evicts until a new registration of {@code length} fits the configured limits. */
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
            Entry victim = evictionOrder.claimVictim(index);
            if (victim == null) {
                throw exhausted(length, overBytes
                        ? "maxBytes " + Settings.formatBytes(maxBytes)
                        : "maxEntries " + maxEntries, null);
            }
            evict(victim);
            if (overBytes) {
                ledger.evictionsMaxBytes++;
            } else {
                ledger.evictionsMaxEntries++;
            }
        }
    }

    /** Registers with the device, evicting one unused entry and retrying while it is exhausted. */
    private MemoryRegion register(long start, long length, Access access) {
        while (true) {
            long began = System.nanoTime();
            try {
                MemoryRegion region = device.register(start, length, access);
                ledger.registered(region, System.nanoTime() - began);
                return region;
            } catch (ResourceExhaustedException e) {
                ledger.deviceNanos += System.nanoTime() - began;
                Entry victim = evictionOrder.claimVictim(index);
                if (victim == null) {
                    throw exhausted(length, "device " + device.name() + ": " + e.getMessage(), e);
                }
                evict(victim);
                ledger.evictionsDeviceLimit++;
            }
        }
    }

    private ResourceExhaustedException exhausted(long length, String limit, Throwable cause) {
        long inUse = inUseBytes();
        return new ResourceExhaustedException(String.format(
                "cannot register %s: %s pinned in %d registrations, %s in use, nothing unused to evict; limit: %s",
                Settings.formatBytes(length), Settings.formatBytes(ledger.registeredBytes), ledger.liveEntries,
                Settings.formatBytes(inUse), limit), cause);
    }

    private void evict(Entry victim) {
        index.remove(victim);
        deregister(victim);
    }

    /**
     * Takes an entry out of the index for good (replaced, invalidated): deregistered now if
     * unused, else by its last holder. Whichever of this and the last release comes second sees
     * the other's half and does the deregistration; {@link Entry#tryKill} lets exactly one do it.
     */
    private void retire(Entry entry, long extraFlags) {
        long before = entry.mark(Entry.RETIRED | extraFlags);
        index.remove(entry);
        if ((before & Entry.DEAD) != 0) {
            return;
        }
        if (Entry.holders(before) == 0 && entry.tryKill(false)) {
            retired.remove(entry);
            deregister(entry);
        } else {
            retired.add(entry);
        }
    }

    /** The last holder of a retired entry deregisters it (a deferred deregistration). */
    void release(Entry entry) {
        entry.stampUse(clock.getAsLong()); // before the count drops: eviction reads stamp, then count
        long state = entry.release();
        if (Entry.holders(state) != 0 || (state & Entry.RETIRED) == 0 || (state & Entry.DEAD) != 0) {
            return;
        }
        lock.lock();
        try {
            if (entry.tryKill(false)) {
                retired.remove(entry);
                deregister(entry);
                ledger.deferredDeregistrations++;
            }
        } finally {
            lock.unlock();
        }
    }

    private void deregister(Entry entry) {
        long began = System.nanoTime();
        try {
            device.deregister(entry.region);
        } catch (RuntimeException e) {
            // The region counts as released either way; the device said why it could not.
            LOG.log(System.Logger.Level.WARNING, "device " + device.name() + " failed to deregister " + entry, e);
        } finally {
            ledger.deregistered(entry, Entry.hits(entry.state()), System.nanoTime() - began);
        }
    }

    /**
     * Invalidates every registration overlapping {@code [address, address + length)}: none of them
     * can be returned by a later acquire; unused ones are deregistered now, held ones when their
     * last holder releases, and their {@link Registration#isValid()} is false from now on.
     *
     * @throws IllegalArgumentException when length is not positive or the range overflows
     * @throws IllegalStateException when the cache is closed
     */
    public void invalidate(long address, long length) {
        checkRange(address, length);
        long start = address & ~pageMask;
        long end = (address + length + pageMask) & ~pageMask;
        lock.lock();
        try {
            ensureOpen();
            for (Entry entry : index.overlapping(start, end)) {
                retire(entry, Entry.INVALID);
                ledger.invalidations++;
            }
            for (Entry entry : new ArrayList<>(retired)) {
                if (entry.start < end && start < entry.end && (entry.mark(Entry.INVALID) & Entry.INVALID) == 0) {
                    ledger.invalidations++;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Deregisters unused registrations, least recently used first, until at least {@code bytes}
     * are given back or none is left. Held registrations are kept.
     *
     * @return the bytes deregistered
     * @throws IllegalArgumentException when bytes is negative
     */
    public long trim(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must not be negative: " + bytes);
        }
        lock.lock();
        try {
            long freed = 0;
            while (!closed && freed < bytes) {
                Entry victim = evictionOrder.claimVictim(index);
                if (victim == null) {
                    break;
                }
                evict(victim);
                ledger.trimmed++;
                freed += victim.length();
            }
            return freed;
        } finally {
            lock.unlock();
        }
    }

    /** A snapshot of the counters and gauges. */
    public CacheStats stats() {
        lock.lock();
        try {
            long hits = ledger.hitsOfDeregistered + drainedHits.get();
            for (Entry entry : index.entries()) {
                hits += Entry.hits(entry.state());
            }
            for (Entry entry : retired) {
                hits += Entry.hits(entry.state());
            }
            return ledger.snapshot(hits, index.size(), retired.size(), inUseBytes());
        } finally {
            lock.unlock();
        }
    }

    private long inUseBytes() {
        long bytes = 0;
        for (Entry entry : index.entries()) {
            if (Entry.holders(entry.state()) != 0) {
                bytes += entry.length();
            }
        }
        for (Entry entry : retired) {
            bytes += entry.length();
        }
        return bytes;
    }

    /** The device this cache registers with. */
    public Device device() {
        return device;
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Deregisters every registration, held or not (holders see {@link Registration#isValid()}
     * false and may still close theirs). Closing twice is harmless.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            List<Entry> all = new ArrayList<>(index.entries());
            all.addAll(retired);
            index.clear();
            retired.clear();
            evictionOrder.clear();
            for (Entry entry : all) {
                if (entry.forceKill()) {
                    deregister(entry);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("registration cache is closed");
        }
    }

    private void checkRange(long address, long length) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive: " + length);
        }
        if (address < 0 || address > Long.MAX_VALUE - pageMask - length) {
            throw new IllegalArgumentException(String.format(
                    "range 0x%x + %d bytes overflows the address space", address, length));
        }
    }
}
