package org.memreg.testkit;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;

/**
 * A device that remembers when (on its own clock) each registration was made, so that a test can
 * tell a registration older than the memory it covers: read {@link #now()} once a buffer is
 * mapped (or changed); a registration of it with an epoch at or below that
 * ({@link #registeredAt}) was made for earlier memory and is handed out stale. Works where physical frames are hidden (unprivileged users), unlike the
 * simulated NIC's frame check.
 */
public final class EpochDevice extends ForwardingDevice {
    private final AtomicLong clock = new AtomicLong();
    private final Map<Long, Long> epochs = new ConcurrentHashMap<>();

    public EpochDevice(Device device) {
        super(device);
    }

    /** The clock now: registrations made from here on have this epoch or a later one. */
    public long now() {
        return clock.get();
    }

    /** The epoch of the registration with {@code localKey}; -1 when this device made none. */
    public long registeredAt(long localKey) {
        return epochs.getOrDefault(localKey, -1L);
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        long epoch = clock.incrementAndGet();
        MemoryRegion region = device.register(address, length, access);
        epochs.put(region.localKey(), epoch);
        return region;
    }
}
