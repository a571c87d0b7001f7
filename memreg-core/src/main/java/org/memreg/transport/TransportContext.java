package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxWorker;
import org.memreg.util.Warnings;

/**
 * What a node's parts ({@link Connections}, {@link Messaging}, {@link Windows}) and its
 * operations share, in place of the node itself: the node's id, its UCX worker, the one lock
 * every UCX call and all the parts' state are under, the arena of its small buffers, the
 * timeout, whether it is closing, and the {@link ProgressEngine}. The node owns these and
 * its lifecycle; a part gets this and the other parts it calls, nothing more.
 */
final class TransportContext {
    static final SecureRandom RANDOM = new SecureRandom();

    final long nodeId;
    final UcxWorker worker;
    final NodeLock lock;
    final Arena arena;
    /** The node's memory that UCX gets in place of a confined arena's. */
    final ConfinedMemory confinedMemory = new ConfinedMemory();
    /** Per send, rendezvous, put, get and flush. */
    final long timeoutNanos;
    final ProgressEngine engine;
    /** Set when the node closes: parts refuse new work, the progress thread stops. */
    volatile boolean closed;
    /** Operations on a caller's memory past the timeout, still held by UCX: logged at most once a second. */
    private final Warnings overdue = new Warnings(Node.class, "memreg node: operations on the caller's memory past"
            + " the node's timeout; their futures complete when UCX lets go of the memory");
    /** Where an eager send copies a caller's buffer for UCX (under the lock), until a send UCX keeps takes it. */
    private MemorySegment ucxCopy;

    TransportContext(long nodeId, UcxWorker worker, Arena arena, long timeoutNanos, boolean progressThread,
            long idleSpinNanos, long waitSpinNanos, long asideParkNanos, String name) {
        this.nodeId = nodeId;
        this.worker = worker;
        this.arena = arena;
        this.timeoutNanos = timeoutNanos;
        this.lock = new NodeLock(timeoutNanos, name);
        try {
            this.engine = new ProgressEngine(this, progressThread, idleSpinNanos, waitSpinNanos, asideParkNanos, name);
        } catch (RuntimeException e) {
            lock.closed();
            throw e;
        }
    }

    /**
     * Wakes the progress thread for a thread outside the node's progress that holds none of its
     * locks (an arena's holder, its hold now in place): under the lock, so never after the close.
     */
    void wakeUnderLock() {
        if (!engine.hasThread()) {
            return; // the caller progresses: it looks again on its own
        }
        lock.lock();
        try {
            if (!closed) {
                engine.wake();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Releases the lock, then wakes the progress thread in case work was added. */
    void unlockAndWake() {
        lock.unlock();
        engine.wake();
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("node is closed");
        }
    }

    TransportException timedOut(String what) {
        return new TransportException(what + " timed out after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms",
                Ucp.ERR_TIMED_OUT);
    }

    /**
     * Says that {@code what}, an operation on the caller's memory, passed the timeout while UCX still
     * holds the memory (under the lock): its future waits for UCX, which cannot cancel it.
     */
    void overdue(String what) {
        overdue.warn(() -> what + " is not over after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms: the peer"
                + " does not progress it, and UCX may still use the caller's memory");
    }

    /** {@code data} copied into memory of the node's (under the lock): {@link #ucxCopy}, unless a send took it. */
    MemorySegment copyForUcx(MemorySegment data) {
        if (ucxCopy == null || ucxCopy.byteSize() < data.byteSize()) {
            ucxCopy = Arena.ofAuto().allocate(Math.max(data.byteSize(), 8), 8); // as small as it can be: UCX may keep it
        }
        return ucxCopy.asSlice(0, data.byteSize()).copyFrom(data);
    }

    /** UCX keeps the last {@link #copyForUcx} until its send ends: the next goes elsewhere. */
    void copyKept() {
        ucxCopy = null;
    }

    /** Sends a control message (under the lock); nobody waits for it. */
    void sendControl(Endpoint endpoint, long tag, MemorySegment payload) {
        if (closed || endpoint.failure != null) {
            return; // UCX freed the worker or the endpoint: a send through either read freed memory
        }
        SendOp.start(this, endpoint, tag, payload, new CompletableFuture<>());
    }

    static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        RANDOM.nextBytes(bytes);
        return bytes;
    }
}
