package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.memreg.device.Access;
import org.memreg.ucx.UcxMemory;
import org.memreg.util.ArenaHold;

/**
 * Memory registered once for one-sided access by peers. Normally memreg allocates it
 * ({@link Node#allocateWindow}, MPI_Alloc_mem style) with UCX ({@code UCP_MEM_MAP_ALLOCATE}), so that
 * peers on the same host reach it through shared memory (fast RMA) rather than an emulation; UCX's
 * shared memory allocator uses huge pages where the system has them reserved
 * ({@code UCX_SYSV_HUGETLB_MODE}). {@link Node#registerWindow} registers memory the caller owns
 * instead (MPI_Win_create style); closing such a window leaves the memory mapped.
 *
 * <p><b>Keys and safety.</b> {@link #key()} names the window by an unguessable id and a
 * generation. A peer's {@link Endpoint#attach} asks this node to describe the window the key
 * names and uses only that description: a key of a closed window, of a revoked generation or of
 * one never issued is refused, and so is a key whose range, rights or remote key differ from the
 * window's. {@link #invalidate()} and {@link #close()} revoke the current generation: every
 * connected peer is told, stops issuing operations with it, flushes what it issued, and
 * acknowledges; only then does close unmap the memory (or invalidate make the next generation
 * current). A peer that does not answer within the node's timeout (at most 5 s), or has failed,
 * is skipped. After that a put or get with the old key fails at the origin with
 * {@link StaleWindowException}, before anything is sent.
 *
 * <p><b>Memory.</b> {@link #segment()} lives as long as the window: after close, any access
 * through it throws {@link IllegalStateException}.
 */
public final class Window implements AutoCloseable {
    private final TransportContext ctx;
    private final Windows windows;
    private final long id;
    private final UcxMemory memory;
    private final Access access;
    private final byte[] rkey;
    /** The id of the SysV segment behind an allocated window, or -1: peers hold it while they unpack. */
    private final int shmid;
    /** The scope of {@link #segment()}: closed with the window, so its memory cannot be touched after. */
    private final Arena scope = Arena.ofShared();
    private final MemorySegment segment;
    /**
     * The caller's memory behind a registered window, else null: held, so that memory of an
     * automatic arena lives while the window is registered (the caller may keep only the window).
     */
    @SuppressWarnings("unused")
    private final MemorySegment callers;
    /** The hold of the arena of {@link #callers} ({@link ArenaHold}), which the close ends; else {@link ArenaHold#NONE}. */
    private final ArenaHold hold;
    /** The current generation; changed under the node's lock. */
    private volatile long generation = 1;
    /** The highest generation handed out: the current one, or the next after {@link #nextKey()}. */
    private long issued = 1;
    private volatile boolean closed;

    Window(TransportContext ctx, Windows windows, long id, UcxMemory memory, Access access, byte[] rkey, int shmid,
            MemorySegment callers, ArenaHold hold) {
        this.ctx = ctx;
        this.windows = windows;
        this.id = id;
        this.memory = memory;
        this.access = access;
        this.rkey = rkey;
        this.shmid = shmid;
        this.callers = callers;
        this.hold = hold;
        this.segment = MemorySegment.ofAddress(memory.address()).reinterpret(memory.length(), scope, null);
    }

    /**
     * The window's memory, to read and write locally. The segment lives as long as the window:
     * once the window (or its node) is closed, every access through it throws
     * {@link IllegalStateException} instead of touching unmapped memory. On JDK 25 a thread that
     * is reading or writing the segment at the very moment another closes the window also has its
     * interrupt flag set (JDK-8306324, as for any shared arena): close a window once its users are
     * done with it.
     */
    public MemorySegment segment() {
        checkOpen();
        return segment;
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
        checkOpen();
        return key(generation);
    }

    /**
     * Issues the key of the next generation now: peers may attach it at once, and it stays good
     * when {@link #invalidate()} revokes the current one. For handing the peers that stay their
     * next key before revoking the key of one that must go.
     */
    public WindowKey nextKey() {
        ctx.lock.lock();
        try {
            checkOpen();
            issued = generation + 1;
            return key(issued);
        } finally {
            ctx.unlockAndWake();
        }
    }

    private WindowKey key(long generation) {
        return new WindowKey(ctx.nodeId, id, generation, memory.address(), memory.length(), access, rkey);
    }

    /**
     * Revokes the current key generation at every peer, and waits for their acknowledgements (up
     * to the node's timeout, at most 5 s); the next {@link #key()} has the next one.
     *
     * @throws IllegalStateException when the window is closed, or when called inside the node's
     *     progress (a completion stage of one of its futures), where no acknowledgement can come
     */
    public void invalidate() {
        checkOpen();
        ctx.engine.outsideProgress("Window.invalidate()");
        windows.revoke(id, generation, true);
        ctx.lock.lock();
        try {
            generation++;
            issued = Math.max(issued, generation);
        } finally {
            ctx.unlockAndWake();
        }
    }

    /**
     * How this window answers a peer asking about {@code asked} (under the node's lock): its
     * description, or why that generation is no good.
     */
    Description describe(long asked) {
        Description.Status status = closed ? Description.Status.UNKNOWN
                : asked < generation ? Description.Status.REVOKED
                : asked > issued ? Description.Status.NOT_ISSUED : Description.Status.OK;
        return status == Description.Status.OK ? new Description(status, key(asked), shmid)
                : Description.refusal(status);
    }

    /**
     * Revokes the key at every peer, waits for their acknowledgements as {@link #invalidate()}
     * does, then unmaps the memory. Closing twice is harmless.
     *
     * @throws IllegalStateException when called inside the node's progress (a completion stage of
     *     one of its futures): there no peer's acknowledgement could come, and a peer's put issued
     *     before it saw the revocation could land in the memory after the close returned; close it
     *     from another thread or an async stage
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        ctx.engine.outsideProgress("Window.close()");
        closed = true; // from now on peers asking about it are told it is gone
        try {
            windows.revoke(id, generation, !memory.allocated()); // the caller's memory stays mapped
        } finally {
            scope.close(); // before the unmap: no thread can reach the memory through segment() now
            try {
                windows.close(this, memory);
            } finally {
                hold.releaseAndWait(); // UCX let go of the caller's memory: its arena may close
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("window " + Long.toHexString(id) + " is closed");
        }
    }

    @Override
    public String toString() {
        return String.format("Window[%016x gen %d, %d bytes at 0x%x]", id, generation, size(), memory.address());
    }
}
