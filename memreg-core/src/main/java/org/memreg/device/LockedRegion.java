package org.memreg.device;

/** A region registered by {@link MlockDevice}: plain values, identity tells regions apart. */
record LockedRegion(long address, long length, Access access, long localKey, long remoteKey)
        implements MemoryRegion {
    @Override
    public String toString() {
        return String.format("mlock[0x%x..0x%x %s key=%016x]", address, address + length, access, localKey);
    }
}
