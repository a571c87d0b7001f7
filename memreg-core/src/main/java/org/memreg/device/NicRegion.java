package org.memreg.device;

/**
 * A region in the {@link SimulatedNic}'s translation table: the range, rights, keys, and the
 * pagemap entry of each page as recorded at registration (the frames a real NIC would use).
 */
record NicRegion(long address, long length, Access access, long localKey, long remoteKey, long[] frames)
        implements MemoryRegion {
    /** Number of pages (translation entries) the region takes. */
    int pages() {
        return frames.length;
    }

    @Override
    public boolean equals(Object other) {
        return this == other; // identity: two registrations of one range are different regions
    }

    @Override
    public int hashCode() {
        return Long.hashCode(localKey);
    }

    @Override
    public String toString() {
        return String.format("nic[0x%x..0x%x %s lkey=%016x rkey=%016x]",
                address, address + length, access, localKey, remoteKey);
    }
}
