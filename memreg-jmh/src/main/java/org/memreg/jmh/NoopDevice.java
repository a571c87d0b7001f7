package org.memreg.jmh;

import java.util.concurrent.atomic.AtomicLong;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;

/**
 * A device whose registration does nothing, so a benchmark measures the cache alone; the same
 * set-up as the UCX rcache comparison's no-op registration callback.
 */
final class NoopDevice implements Device {
    private record Region(long address, long length, Access access, long localKey, long remoteKey)
            implements MemoryRegion {}

    private final AtomicLong keys = new AtomicLong(1);
    private final AtomicLong bytes = new AtomicLong();

    @Override
    public String name() {
        return "noop";
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        bytes.addAndGet(length);
        long key = keys.getAndIncrement();
        return new Region(address, length, access, key, key);
    }

    @Override
    public void deregister(MemoryRegion region) {
        bytes.addAndGet(-region.length());
    }

    @Override
    public long registeredBytes() {
        return bytes.get();
    }

    @Override
    public void close() {
    }
}
