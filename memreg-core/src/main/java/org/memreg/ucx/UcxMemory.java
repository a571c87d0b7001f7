package org.memreg.ucx;

import java.lang.foreign.MemorySegment;

/**
 * Memory mapped into a {@link UcxContext} with {@code ucp_mem_map}: a {@code ucp_mem_h} and the
 * range it covers. {@link #close()} unmaps it (also when the context closes first); closing twice
 * is harmless. {@link #allocated()} tells memory UCX allocated (freed by the unmap) from memory
 * the caller owns.
 */
public final class UcxMemory implements AutoCloseable {
    private final UcxContext context;
    private final long memh;
    private final long address;
    private final long length;
    private final boolean allocated;
    private final int prot;

    UcxMemory(UcxContext context, long memh, long address, long length, boolean allocated, int prot) {
        this.context = context;
        this.memh = memh;
        this.address = address;
        this.length = length;
        this.allocated = allocated;
        this.prot = prot;
    }

    /** The raw {@code ucp_mem_h}. */
    public long memh() {
        return memh;
    }

    /** First mapped byte. */
    public long address() {
        return address;
    }

    /** Mapped length in bytes. */
    public long length() {
        return length;
    }

    /** True when UCX allocated the memory ({@code UCP_MEM_MAP_ALLOCATE}). */
    public boolean allocated() {
        return allocated;
    }

    /** The {@code ucp_mem_map} protection it was mapped with (0: UCX's default). */
    int prot() {
        return prot;
    }

    /** The mapped range as a segment (unbounded lifetime: valid until {@link #close()}). */
    public MemorySegment segment() {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }

    /**
     * The packed remote key ({@code ucp_rkey_pack}) a peer needs to reach this memory. From now
     * until it is unmapped, peers over TCP may reach it too, as its remote rights allow ({@link
     * ExposedMemory}).
     */
    public byte[] packRkey() {
        return context.packRkey(this);
    }

    @Override
    public void close() {
        context.unmap(this);
    }

    @Override
    public String toString() {
        return String.format("UcxMemory[0x%x..0x%x memh=0x%x%s]", address, address + length, memh,
                allocated ? " allocated" : "");
    }
}
