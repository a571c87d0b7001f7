package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;

/**
 * A connection to one peer node: made by {@link Node#connect} (client side) or by a peer
 * connecting to this node's listener (see {@link Node#accepted()}). Tagged sends go through it;
 * receives are the node's (they match any peer). Windows of the peer are reached through
 * {@link #attach(WindowKey)}, which keeps unpacked remote keys in this endpoint's key cache.
 *
 * <p>An endpoint fails when UCX reports its peer gone (error mode {@link ErrorMode#PEER}); every
 * operation on it then fails at once with the reason, and other endpoints go on. Closing is
 * harmless twice; operations on a closed endpoint fail with {@link TransportException}.
 * Thread-safe (all work happens under the node's lock).
 */
public final class Endpoint implements AutoCloseable {
    private final Node node;
    /** The node's parts this endpoint's operations go to. */
    private final Messaging messaging;
    private final Windows windows;
    private final Connections connections;
    final long ep;
    final String description;
    /** Remote-key cache: window id -> attached key (only the newest generation is kept). */
    final Map<Long, RemoteWindow> keys = new HashMap<>();
    volatile long peerId;
    /**
     * For an endpoint this node opens: the node its address names, set before its hello goes and
     * so known while {@link #peerId} is still 0 (until the reply); else 0.
     */
    volatile long connectingTo;
    /** True once a full handshake round trip passed: UCX may be given our memory handles then. */
    volatile boolean ready;
    volatile TransportException failure;
    volatile boolean closed;
    /**
     * Sends to this peer that timed out while UCX still holds them: an eager send's copy, a
     * rendezvous send's header or chunks (a peer that stopped receiving, or took a header and not
     * its chunks, or left: in error mode NONE nothing ends them, and chunks stay registered).
     * While there is one, no send starts that UCX would have to keep: rendezvous sends, and
     * eager ones UCX cannot take at once. Under the node's lock.
     */
    int heldSends;

    Endpoint(Node node, Messaging messaging, Windows windows, Connections connections, long ep, long peerId,
            String description) {
        this.node = node;
        this.messaging = messaging;
        this.windows = windows;
        this.connections = connections;
        this.ep = ep;
        this.peerId = peerId;
        this.description = description;
    }

    /** The node this endpoint belongs to. */
    public Node node() {
        return node;
    }

    /** The peer node's id (random, chosen by the peer when it started). */
    public long peerId() {
        return peerId;
    }

    /** True when the peer is known to have failed or the endpoint was closed. */
    public boolean isUsable() {
        return !closed && failure == null;
    }

    /**
     * Sends {@code data} (a native segment; it must not change until the future completes) under
     * {@code tag} in {@code [0, 2^56)}. Up to the eager size the data is copied (UCX keeps no
     * pointer to it once this returns); above it the buffer goes zero-copy by rendezvous in
     * registered chunks. The future completes with the byte count, or with a {@link
     * TransportException} (closed, peer failed, timed out), and the buffer's arena must stay open
     * until then: a rendezvous send holds a shared arena open ({@link org.memreg.util.ArenaHold};
     * its {@code close()} throws {@link IllegalStateException} until the future is done), and one
     * from a confined arena, which cannot be held, goes from a copy made in the call (so its owner
     * may close it at once; zero copy needs a shared or automatic arena). A rendezvous send that fails completes its future
     * only once UCX holds none of its chunks (UCX cannot cancel a send): one that timed out while
     * UCX holds a chunk fails when UCX lets go of it, at the latest when the node closes. An eager
     * send completes when UCX has the data; a rendezvous send only once the receiver has the whole
     * message (it says so), so it fails if the receiver refuses it (its buffer too small, {@link
     * TransportException#isTruncation()}, or it holds too many unasked messages), closes first, or
     * posts no receive within the node's timeout. While an earlier send to this peer that timed out
     * is still held by UCX (the peer has not taken it), a send that UCX would have to keep (a
     * rendezvous send, or an eager one it cannot take at once) fails at once ({@code
     * UCS_ERR_BUSY}): each would keep node memory, a rendezvous send's chunks registered, for as
     * long as the node lives. A rendezvous send cannot be cancelled ({@code cancel} returns false),
     * and only the node completes its future ({@code complete}, {@code orTimeout} and the like
     * throw {@link UnsupportedOperationException} while it is not done).
     *
     * @throws IllegalArgumentException if {@code data} is not native
     * @throws IllegalStateException if the arena of {@code data} is closed
     * @throws WrongThreadException if {@code data} is confined to another thread (its owner alone
     *     may use it, and may close it under the copy)
     */
    public CompletableFuture<Long> send(long tag, MemorySegment data) {
        return messaging.send(this, Tags.checkUserTag(tag), data);
    }

    /**
     * Sends {@code data} (a native segment of at most the node's eager size) under {@code tag}
     * by copy, and returns once the data is out of it: for small messages at once, without a
     * future. If UCX cannot take it at once, this waits (progressing the worker) up to the node's
     * timeout; UCX sends messages above its own threshold ({@code UCX_RNDV_THRESH}, some KiB) by
     * its rendezvous, which waits for the peer's receive. The buffer may change as soon as this
     * returns. For small messages on a latency path. Inside a completion stage of this node's
     * futures, which runs inside the node's progress where nothing can be waited for, it sends
     * from a copy of its own instead of waiting (failures after it returned then go unreported,
     * as for a message UCX took at once).
     *
     * @throws IllegalArgumentException if {@code data} is larger than the eager size or not native
     * @throws IllegalStateException if the arena of {@code data} is closed
     * @throws WrongThreadException if {@code data} is confined to another thread
     * @throws TransportException if the endpoint is unusable, the send fails or times out
     */
    public void sendCopy(long tag, MemorySegment data) {
        messaging.sendCopy(this, Tags.checkUserTag(tag), data);
    }

    /**
     * The peer's window named by {@code key}, ready for put/get. The key only selects the window:
     * this asks the peer to describe it (one round trip) and uses only the peer's description, so
     * a damaged or altered key, or one of a window the peer closed, is refused before UCX sees it.
     * The unpacked remote key is cached per endpoint and window: attaching the same key again
     * costs a map lookup.
     *
     * @throws StaleWindowException when the peer has no such window (closed, or never made), or
     *     revoked that generation, or never issued it
     * @throws TransportException when the key belongs to another peer, differs from what the peer
     *     issued, the peer does not answer within the node's timeout, or the endpoint is unusable
     */
    public RemoteWindow attach(WindowKey key) {
        return windows.attach(this, key);
    }

    /** Completes when every put and get issued on this endpoint has completed at the peer. */
    public CompletableFuture<Void> flush() {
        return windows.flush(this);
    }

    /** {@link RemoteWindow#put} and {@link RemoteWindow#get} of a window attached through this endpoint. */
    CompletableFuture<Void> rma(RemoteWindow window, boolean put, long offset, MemorySegment local) {
        return windows.rma(window, put, offset, local);
    }

    /** {@link RemoteWindow#mapped} of a window attached through this endpoint. */
    Optional<MemorySegment> map(RemoteWindow window) {
        return windows.map(window);
    }

    /**
     * Empties the key cache of this closing endpoint and marks its windows revoked (under the
     * node's lock); the caller destroys their UCX keys once UCX is done with the endpoint's operations.
     */
    List<RemoteWindow> takeKeys() {
        List<RemoteWindow> taken = new ArrayList<>(keys.values());
        taken.forEach(window -> window.revoked = true);
        keys.clear();
        return taken;
    }

    /** Closes the endpoint: pending operations on it fail or are cancelled. Twice is harmless. */
    @Override
    public void close() {
        connections.close(this);
    }

    /** {@link Connections#stalled}: {@code what}, a put or get, passed the node's timeout. */
    boolean stalled(String what) {
        return connections.stalled(this, what);
    }

    /** Why {@code what} (a send) does not start while {@link #heldSends} is not zero. */
    TransportException busy(String what) {
        return new TransportException(String.format("%s to %s not started: %d earlier send(s) to it timed out and UCX"
                + " still holds them (the peer has not taken them); none that UCX would have to keep starts until they"
                + " end, so that a peer that stopped receiving cannot hold this node's memory without bound", what,
                this, heldSends), Ucp.ERR_BUSY);
    }

    TransportException failure(String what, int status) {
        TransportException known = failure;
        if (known != null) {
            return new TransportException(what + " failed: " + known.getMessage(), known.status());
        }
        if (closed) {
            return new TransportException(what + " failed: " + this + " is closed", Ucp.ERR_CANCELED);
        }
        return new TransportException(what + " to " + this + " failed: " + Ucp.statusString(status), status);
    }

    TransportException unusable(String what) {
        TransportException known = failure;
        if (known != null) {
            return new TransportException(what + ": " + known.getMessage(), known.status());
        }
        return new TransportException(what + ": " + this + " is closed", Ucp.ERR_CANCELED);
    }

    @Override
    public String toString() {
        return String.format("endpoint[%s peer %016x]", description, peerId);
    }
}
