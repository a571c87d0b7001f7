package org.memreg.device;

/**
 * Registers and deregisters memory with something that reads or writes it without the CPU: an
 * RDMA NIC, the kernel's page locking, a simulated NIC. This is the SPI the registration cache
 * talks to; the cache never calls it for the same region from two threads at once, but a device
 * must still accept calls from any thread and overlapping ranges in separate registrations.
 *
 * <p>Every device passes the same contract test suite ({@code DeviceContractTest}).
 */
public interface Device extends AutoCloseable {
    /** A short name for logs and statistics, such as {@code "mlock"}. */
    String name();

    /** The page size registrations are rounded to. */
    default long pageSize() {
        return 4096;
    }

    /**
     * Registers {@code [address, address + length)}, page aligned and non-empty.
     *
     * @return the registered region, covering exactly the range given
     * @throws ResourceExhaustedException when the device is out of pin budget or table entries
     * @throws UnmappedMemoryException when part of the range is not mapped
     * @throws DeviceException for any other failure; nothing stays registered after a failure
     */
    MemoryRegion register(long address, long length, Access access);

    /**
     * Deregisters a region this device returned. Deregistering a region twice is harmless.
     *
     * @throws DeviceException when the device fails to release it (the region counts as released)
     */
    void deregister(MemoryRegion region);

    /** Bytes this device currently holds registered (overlapping regions count once per page). */
    long registeredBytes();

    /** Releases everything the device still holds. Closing twice is harmless. */
    @Override
    void close();
}
