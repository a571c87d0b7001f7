package org.memreg.cache;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.DeviceException;
import org.memreg.device.MemoryRegion;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.device.UnmappedMemoryException;

/**
 * A test double for the cache's own tests: registers nothing for real, only bookkeeping, with a
 * finite capacity (bytes, regions), ranges it calls unmapped, and failures on demand. It checks
 * the cache's side of the contract: aligned non-empty ranges, no double deregistration.
 */
final class InMemoryTestDevice implements Device {
    record Region(long address, long length, Access access, long localKey, long remoteKey) implements MemoryRegion {}

    private final long capacityBytes;
    private final long maxRegions;
    private final Set<Region> live = new HashSet<>();
    private final List<long[]> unmapped = new ArrayList<>();
    private final AtomicLong keys = new AtomicLong(1);
    private RuntimeException failNext;
    long registerCalls;
    long deregisterCalls;
    long protocolErrors;
    long liveBytes;

    InMemoryTestDevice(long capacityBytes, long maxRegions) {
        this.capacityBytes = capacityBytes;
        this.maxRegions = maxRegions;
    }

    InMemoryTestDevice() {
        this(Long.MAX_VALUE, Long.MAX_VALUE);
    }

    @Override
    public String name() {
        return "in-memory-test";
    }

    synchronized void markUnmapped(long address, long length) {
        unmapped.add(new long[] {address, address + length});
    }

    synchronized void failNextRegistration(RuntimeException failure) {
        failNext = failure;
    }

    @Override
    public synchronized MemoryRegion register(long address, long length, Access access) {
        registerCalls++;
        if (length <= 0 || address % pageSize() != 0 || length % pageSize() != 0) {
            protocolErrors++;
            throw new DeviceException("unaligned or empty range");
        }
        if (failNext != null) {
            RuntimeException failure = failNext;
            failNext = null;
            throw failure;
        }
        for (long[] hole : unmapped) {
            if (address < hole[1] && hole[0] < address + length) {
                throw new UnmappedMemoryException(address, length);
            }
        }
        if (liveBytes + length > capacityBytes || live.size() + 1 > maxRegions) {
            throw new ResourceExhaustedException("test device full: " + liveBytes + " of " + capacityBytes
                    + " bytes, " + live.size() + " of " + maxRegions + " regions");
        }
        Region region = new Region(address, length, access, keys.getAndIncrement(), keys.getAndIncrement());
        live.add(region);
        liveBytes += length;
        return region;
    }

    @Override
    public synchronized void deregister(MemoryRegion region) {
        deregisterCalls++;
        if (!live.remove((Region) region)) {
            protocolErrors++; // the cache deregistered something twice or not ours
            return;
        }
        liveBytes -= region.length();
    }

    synchronized int liveRegions() {
        return live.size();
    }

    synchronized boolean isLive(long address, long length) {
        return live.stream().anyMatch(r -> r.address() == address && r.length() == length);
    }

    @Override
    public synchronized long registeredBytes() {
        return liveBytes;
    }

    @Override
    public void close() {
    }
}
