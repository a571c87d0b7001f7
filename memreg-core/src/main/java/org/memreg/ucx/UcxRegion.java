package org.memreg.ucx;

import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;

/**
 * A region registered by {@link UcxDevice}: the range, random local and remote keys, and the UCX
 * memory handle. {@link #memh()} is what a transport passes to UCX with the operation;
 * {@link #packedRkey()} what a peer unpacks to reach the region.
 */
public final class UcxRegion implements MemoryRegion {
    private final long address;
    private final long length;
    private final Access access;
    private final long localKey;
    private final long remoteKey;
    private final UcxMemory memory;
    private volatile byte[] packedRkey;

    UcxRegion(long address, long length, Access access, long localKey, long remoteKey, UcxMemory memory) {
        this.address = address;
        this.length = length;
        this.access = access;
        this.localKey = localKey;
        this.remoteKey = remoteKey;
        this.memory = memory;
    }

    @Override
    public long address() {
        return address;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public Access access() {
        return access;
    }

    @Override
    public long localKey() {
        return localKey;
    }

    @Override
    public long remoteKey() {
        return remoteKey;
    }

    /** The {@code ucp_mem_h}. */
    public long memh() {
        return memory.memh();
    }

    UcxMemory memory() {
        return memory;
    }

    /** The packed remote key (packed once, then cached); fails once deregistered. */
    public byte[] packedRkey() {
        byte[] packed = packedRkey;
        if (packed == null) {
            packed = memory.packRkey();
            packedRkey = packed;
        }
        return packed.clone();
    }

    @Override
    public String toString() {
        return String.format("ucx[0x%x..0x%x %s memh=0x%x]", address, address + length, access, memory.memh());
    }
}
