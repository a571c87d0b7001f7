package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.memreg.linux.SysvShm;
import org.memreg.ucx.UcxWorker;

/**
 * A peer's window as the origin sees it: an attached {@link WindowKey} with its unpacked UCX
 * remote key, cached by the {@link Endpoint}. {@link #put} and {@link #get} check the endpoint,
 * the key's generation (against revocations the owner sent), the bounds and the access before
 * anything is sent; a failed check fails the returned future (stale: {@link StaleWindowException};
 * out of bounds: {@link IndexOutOfBoundsException}; wrong access:
 * {@link UnsupportedOperationException}).
 *
 * <p>A put's future completes when the source may be reused; {@link #flush()} when every put and
 * get to this peer completed remotely. The future of a put or get completes only once UCX has let
 * go of the caller's buffer, which it cannot cancel. At the node's timeout, in error mode
 * {@link ErrorMode#PEER}, the endpoint fails and UCX's forced close ends the operation (its
 * future fails with {@code UCS_ERR_TIMED_OUT}); in {@link ErrorMode#NONE} it is logged and waits
 * (a get over TCP from an owner that stopped progressing waits for its answer) until UCX
 * completes it or the node closes. Bound a wait with {@code get(timeout, unit)}; the buffer is
 * the caller's again when the future is done. A put or get cannot be cancelled ({@code cancel}
 * returns false), and only the node completes its future ({@code complete}, {@code orTimeout}
 * and the like throw {@link UnsupportedOperationException} while it is not done).
 */
public final class RemoteWindow {
    final Endpoint endpoint;
    final WindowKey key;
    long rkey;
    /** The SysV segment its owner described, when the owner runs on this host; else -1. */
    final int shmid;
    volatile boolean revoked;
    /** The arena of {@link #mapped}'s segment, null while not mapped; closed before the key goes. Under the node's lock. */
    private Arena mapping;
    private MemorySegment mapped;
    /** Where this node attached the owner's segment for {@link #mapped}: detached once the arena is closed. */
    private long attached;
    /** The node's mapped windows, this one among them while mapped ({@link Windows#unmapAll}). */
    private Set<RemoteWindow> mappedWindows;
    /** True once its segment was found backed by huge pages: never mapped (under the node's lock). */
    boolean unmappable;

    RemoteWindow(Endpoint endpoint, WindowKey key, long rkey, int shmid) {
        this.endpoint = endpoint;
        this.key = key;
        this.rkey = rkey;
        this.shmid = shmid;
    }

    /** Lets UCX free the unpacked remote key, once, its mapping ended first (under the node's lock). */
    void destroyRkey(UcxWorker worker) {
        unmap();
        if (rkey != 0) {
            worker.destroyRkey(rkey);
            rkey = 0;
        }
    }

    /** {@link #mapped}'s segment, or null while it is not mapped (under the node's lock). */
    MemorySegment mappedSegment() {
        return mapped;
    }

    /**
     * Makes {@link #mapped}'s segment of the owner's segment this node attached at {@code address},
     * listed in {@code all}; only while not mapped (under the node's lock).
     */
    @SuppressWarnings("restricted") // attached whole at address, at least the window's length, until the arena closes
    MemorySegment map(long address, Set<RemoteWindow> all) {
        attached = address;
        mapping = Arena.ofShared();
        MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(key.length(), mapping, null);
        mapped = key.access().remoteWrite() ? segment : segment.asReadOnly();
        mappedWindows = all;
        all.add(this);
        return mapped;
    }

    /** Ends the mapping's segment, if there is one: Java code can reach the memory no more (under the node's lock). */
    void unmap() {
        if (mapping != null) {
            mapping.close(); // waits out accesses in progress: they fail, and none follows
            SysvShm.detach(attached);
            mapping = null;
            mapped = null;
            mappedWindows.remove(this);
        }
    }

    /**
     * The owner's window mapped into this process, to read (and, where the key grants
     * {@code REMOTE_WRITE}, to write) in place, without the copy of a {@link #get} or {@link #put}
     * (as MPI_Win_shared_query). Present when the owner runs on this host and its window is a SysV
     * segment UCX allocated ({@link Node#allocateWindow}), which this node attaches itself; empty
     * otherwise (another host, or a window of the owner's own memory, {@link Node#registerWindow},
     * which UCX reaches by cross-memory attach), and for a segment backed by huge pages (hugetlb:
     * its owner can take pages away so that the next access faults, which the JVM reports as an
     * {@link InternalError} at some later point of the reading thread, not where it read). Each
     * call returns the same segment while the key lives.
     *
     * <p>The segment ends (an access throws {@link IllegalStateException}) when the owner revokes
     * the key (it closes or invalidates the window), and when the endpoint or the node closes; a
     * thread inside an access at that moment gets the exception too and, on JDK 25, its interrupt
     * flag (JDK-8306324). The owner, and whoever else it lets, may write the memory at any time:
     * synchronise through messages, and read it as a peer's bytes.
     *
     * @throws StaleWindowException when the owner revoked the key
     * @throws UnsupportedOperationException when the key does not grant {@code REMOTE_READ}
     * @throws TransportException when the endpoint or the node is closed
     */
    public Optional<MemorySegment> mapped() {
        return endpoint.map(this);
    }

    /** The key this window was attached with. */
    public WindowKey key() {
        return key;
    }

    /**
     * True once this node learned that the owner revoked this key (closed the window or
     * invalidated the generation): every put and get through it fails with
     * {@link StaleWindowException}.
     */
    public boolean isRevoked() {
        return revoked;
    }

    /**
     * Writes {@code source} (native) into the window at {@code offset}. A shared arena of {@code
     * source} is held open until the future is done ({@link org.memreg.util.ArenaHold}: its {@code
     * close()} throws meanwhile); a confined one, which cannot be held, is copied in the call. The
     * future fails with {@link WrongThreadException} for memory confined to another thread (as
     * for {@link #get}).
     */
    public CompletableFuture<Void> put(long offset, MemorySegment source) {
        return endpoint.rma(this, true, offset, source);
    }

    /**
     * Reads the window at {@code offset} into {@code target} (native, writable). A shared arena of
     * {@code target} is held open as for {@link #put}; for a confined one, which cannot be held, the
     * bytes land in the node's memory and are copied into {@code target} at the end if its arena is
     * still open (else the future fails with {@link TransportException}); after a wait of its
     * owner's that ended without it, once the owner looks again, as for {@link Node#receive}.
     */
    public CompletableFuture<Void> get(long offset, MemorySegment target) {
        return endpoint.rma(this, false, offset, target);
    }

    /** Completes when every put and get to this peer completed remotely. */
    public CompletableFuture<Void> flush() {
        return endpoint.flush();
    }

    @Override
    public String toString() {
        return "RemoteWindow[" + key + " via " + endpoint + "]";
    }
}
