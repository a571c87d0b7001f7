package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import org.memreg.device.Access;
import org.memreg.ucx.UcxMemory;

/**
 * Memory registered once for one-sided access by peers. Normally memreg allocates it
 * ({@link Node#allocateWindow}, MPI_Alloc_mem style) with UCX ({@code UCP_MEM_MAP_ALLOCATE}), so that
 * peers on the same host reach it through shared memory (fast RMA) rather than an emulation; UCX's
 * shared memory allocator uses huge pages where the system has them reserved
 * ({@code UCX_SYSV_HUGETLB_MODE}). {@link Node#registerWindow} registers memory the caller owns
 * instead (MPI_Win_create style); closing such a window leaves the memory mapped.
 *
 * <p><b>Keys and safety.</b> {@link #key()} names the window by an unguessable id and a
 * generation. {@link #invalidate()} and {@link #close()} revoke the current generation: every
 * connected peer is told, stops issuing operations with it, flushes what it issued, and
 * acknowledges; only then does close unmap the memory (or invalidate hand out the next
 * generation). A peer that does not answer within the node's timeout, or has failed, is skipped.
 * After that a put or get with the old key fails at the origin with {@link StaleWindowException},
 * before anything is sent.
 */
public final class Window implements AutoCloseable {
    private final Node node;
    private final long id;
    private final UcxMemory memory;
    private final Access access;
    private final byte[] rkey;
    private volatile long generation = 1;
    private volatile boolean closed;

    Window(Node node, long id, UcxMemory memory, Access access) {
        this.node = node;
        this.id = id;
        this.memory = memory;
        this.access = access;
        this.rkey = memory.packRkey();
    }

    /** The window's memory, to read and write locally. */
    public MemorySegment segment() {
        if (closed) {
            throw new IllegalStateException("window is closed");
        }
        return memory.segment();
    }

    /** Size in bytes. */
    public long size() {
        return memory.length();
    }

    /** The unguessable id. */
    public long id() {
        return id;
    }

    /** The current generation of the key. */
    public long generation() {
        return generation;
    }

    /** The key peers use now: this generation. */
    public WindowKey key() {
        if (closed) {
            throw new IllegalStateException("window is closed");
        }
        return new WindowKey(node.id(), id, generation, memory.address(), memory.length(), access, rkey);
    }

    /** Revokes the current key generation at every peer; the next {@link #key()} has the next one. */
    public void invalidate() {
        if (closed) {
            throw new IllegalStateException("window is closed");
        }
        node.windows.revoke(id, generation);
        generation++;
    }

    /** Revokes the key at every peer, then unmaps the memory. Closing twice is harmless. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            node.windows.revoke(id, generation);
        } finally {
            node.windows.close(this, memory);
        }
    }

    @Override
    public String toString() {
        return String.format("Window[%016x gen %d, %d bytes at 0x%x]", id, generation, size(), memory.address());
    }
}
