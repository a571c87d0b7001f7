package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.memreg.cache.RegistrationCache;
import org.memreg.cache.RegistrationCacheBuilder;
import org.memreg.device.Access;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxDevice;
import org.memreg.ucx.UcxWorker;
import org.memreg.util.Closing;

/**
 * A memreg transport node: one UCX context and worker, an optional listener, the endpoints to
 * peers, a UCX device with a {@link RegistrationCache} for rendezvous chunks, and the
 * windows it owns. Made by {@link #builder()}.
 *
 * <p><b>Progress.</b> A thread that blocks on one of the node's futures ({@code get},
 * {@code join}, {@link #await}) or in a blocking call such as {@link #connect} drives UCX itself
 * while it waits, spinning up to {@code memreg.transport.waitSpinMicros} after the last event: the
 * message goes from UCX to the waiting thread with no hand-off between threads. One waiter at a
 * time drives; the others park until their future completes or it is their turn. With a progress
 * thread (the default) a daemon thread drives UCX for the work nobody waits on (it steps aside
 * while waiters drive and sleeps on the worker's events when all is idle); without one the caller
 * drives it with {@link #progress()} (a benchmark loop, an event loop) or by waiting.
 *
 * <p><b>Threading.</b> All UCX calls happen under one lock (the worker is
 * {@code UCS_THREAD_MODE_SERIALIZED}); any thread may send, receive, put and get. A future's
 * completion stages ({@code thenApply}, {@code whenComplete} and the like, not the async ones)
 * run inside the progress round that completed it, on the thread that ran the round, holding
 * the lock: they may send, receive, put and get, but waiting there for another of the node's
 * futures ({@code get}, {@code join}, {@link #await}), {@link #progress()} and {@link #close()}
 * throw {@link IllegalStateException} ({@link #await} a {@link TransportException}), since
 * nothing of the node can finish until the stage returns. Wait or close in an async stage.
 *
 * <p><b>Connections.</b> A client connects by host and port to a node's listener, which runs
 * memreg's own handshake over plain TCP ({@link Handshake}: version and error mode must agree; with
 * a shared secret both sides prove it) and only then hands out its UCX worker address; or it
 * connects by {@link #workerAddress()} directly (same host, or any host its UCX can reach). Either
 * way a three-message exchange over UCX (hello, reply, ack) tells both sides each other's node id
 * and confirms the connection; a peer that does not answer within the connect timeout is an
 * unknown peer. UCX's own sockaddr listener is not used: a client with another error mode could
 * abort the listening process through it (UCX 1.13).
 *
 * <p>Closing closes endpoints, unmaps windows and registrations, then UCX. It waits at most 2 s
 * for UCX to close the endpoints, all of them together (peers that stopped reading are left to
 * UCX). Twice is harmless.
 */
// Implementation: this class owns the UCX resources, the settings and the node's lifecycle; the
// work is done by its parts, which share a TransportContext (worker, the one lock, the progress
// engine, timeout) and never see the node: Connections (handshake, endpoint registry), Messaging
// (tagged send and receive), Windows (windows, revocation, keys, put/get) and ProgressEngine (the
// operations in flight and the progress thread).
public final class Node implements AutoCloseable {
    private final UcxContext context;
    private final UcxWorker worker;
    private final UcxDevice device;
    private final RegistrationCache cache;
    private final String name;
    private final long id;
    private final int port;
    /** {@link #workerAddress()}: never changes, so computed once. */
    private final byte[] address;
    /** The listener, or null. */
    private final HandshakeServer listener;
    private final Arena arena = Arena.ofShared();
    /** What the parts share: worker, lock, engine, timeout, closed. */
    private final TransportContext ctx;
    private final Connections connections;
    private final Messaging messaging;
    private final Windows windows;
    /** Set as {@link #close()} begins, before the endpoints close ({@link #isClosed()}). */
    private volatile boolean closing;

    Node(NodeBuilder b) {
        ErrorMode errorMode = b.errorMode;
        this.name = b.name;
        this.id = TransportContext.RANDOM.nextLong() | 1;
        this.context = UcxContext.create(b.ucxSettings(), b.progressThread);
        UcxWorker w = null;
        UcxDevice d = null;
        RegistrationCache c = null;
        HandshakeServer l = null;
        byte[] a;
        byte[] u;
        ConnectionLimit peers = new ConnectionLimit(b.maxPeers);
        try {
            w = UcxWorker.create(context);
            if (b.secret != null) {
                w.requireTcpToken(b.secret.tcpToken()); // strangers off UCX's TCP port, before anyone has the address
            }
            d = UcxDevice.builder().context(context).build();
            c = chunkCache(b, d);
            u = w.address();
            if (u.length > ControlReceive.BUFFER_BYTES - 128) {
                throw new TransportException("UCX's worker address of " + u.length + " bytes does not fit a hello;"
                        + " restrict UCX's devices (memreg.transport.netDevices)", Ucp.ERR_INVALID_PARAM);
            }
            a = new NodeAddress(Handshake.VERSION, errorMode, id, u).toBytes();
            if (b.listen != null) {
                l = new HandshakeServer(b.listen, name, id, errorMode, b.secret, a, new HandshakeServer.Limits(
                        b.maxPendingHandshakes, b.handshakeTimeout.toNanos(), b.connectionRate), peers);
            }
            // the progress engine asks the worker for its event descriptor, which can fail too
            this.ctx = new TransportContext(id, w, arena, b.timeout.toNanos(), b.progressThread,
                    b.idleSpin.toNanos(), b.waitSpin.toNanos(), b.asidePark.toNanos(), name);
        } catch (RuntimeException e) {
            Closing.afterFailure(e, l, c, d, w, context, arena);
            throw e;
        }
        this.worker = w;
        this.device = d;
        this.cache = c;
        this.listener = l;
        this.address = a;
        this.port = l == null ? 0 : l.port();
        Chunking chunking = new Chunking(c, b.eagerBytes, b.chunkBytes, b.pipelineDepth);
        this.connections = new Connections(ctx, errorMode, b.secret, b.connectTimeout.toNanos(), u, peers,
                this::newEndpoint);
        this.messaging = new Messaging(ctx, chunking, connections, b.maxUnexpectedBytes);
        this.windows = new Windows(ctx, connections, context, b.maxWindowBytes, chunking);
        ctx.engine.start(List.of(new ControlReceive(ctx, Tags.UNASKED, Tags.UNASKED_MASK, true, this::onUnasked),
                messaging.unexpected),
                connections::endpointErrors);
    }

    /**
     * The cache of rendezvous chunks; without caching, one that keeps nothing unused (each chunk
     * registered and deregistered, as for comparison) and needs no monitor for it. Its limits are
     * soft: chunks in flight wait on the peer, whose chunks may wait on ours, so a chunk that
     * waited for room could wait forever (two nodes, each holding room for one message while the
     * other's receive of it waits for room: seen as a 30 s timeout under load); it goes over
     * {@code cacheBytes} instead, within the device's own limit.
     */
    private static RegistrationCache chunkCache(NodeBuilder b, UcxDevice device) {
        RegistrationCacheBuilder cache = RegistrationCache.builder(device).merge(false).softLimits(true)
                .statsName("none");
        return b.cacheRegistrations
                ? cache.maxBytes(b.cacheBytes).monitor(MemoryMonitors.named(b.monitor, NodeBuilder.MONITOR_PROP_NAME))
                        .build()
                : cache.keepUnused(false).monitor(MemoryMonitor.NONE).build();
    }

    /** Connections' factory of endpoints: each names this node and the parts its operations go to. */
    private Endpoint newEndpoint(long ep, long peerId, String description) {
        return new Endpoint(this, messaging, windows, connections, ep, peerId, description);
    }

    /** The standing control receive's handler (under the lock, inside progress): dispatch by type. */
    private void onUnasked(long tag, MemorySegment payload) {
        long type = tag & Tags.CTRL_TYPE_MASK;
        if (type == Tags.HELLO) {
            connections.onHello(tag, payload);
        } else if (type == Tags.ACK) {
            connections.onAck(tag, payload);
        } else if (type == Tags.REVOKE) {
            windows.onRevoke(tag, payload);
        } else if (type == Tags.REFUSE) {
            messaging.onRefuse(tag, payload);
        } else if (type == Tags.DELIVERED) {
            messaging.onDelivered(tag, payload);
        } else if (type == Tags.DESCRIBE) {
            windows.onDescribe(tag, payload);
        } else if (type == Tags.BYE) {
            connections.onBye(tag, payload);
        } // else: a type this version does not know; dropped
    }

    /** A builder with the {@code memreg.transport.*} settings. */
    public static NodeBuilder builder() {
        return new NodeBuilder();
    }

    /** This node's id: random, sent to peers in the handshake and in window keys. */
    public long id() {
        return id;
    }

    /** The port the listener is bound to, or 0 without a listener. */
    public int port() {
        return port;
    }

    /**
     * True once {@link #close()} has begun: it closes the node's windows and endpoints first, and
     * every operation fails once it is done. A caller that finds an endpoint of this node closed can
     * ask this to tell the node's close from the peer's going.
     */
    public boolean isClosed() {
        return closing;
    }

    /**
     * This node's address, for peers that {@link #connect(byte[])} to it without the listener's
     * handshake: its UCX worker address with its handshake version, error mode, node id and a
     * checksum. Whoever holds it can reach this node's worker through UCX; hand it only to peers
     * you trust (the listener hands it out only after the handshake, and with a secret only to
     * peers that proved it).
     */
    public byte[] workerAddress() {
        ctx.checkOpen();
        return address.clone();
    }

    /** What the listener did with the connections offered to it (all zero without a listener). */
    public HandshakeStats handshakeStats() {
        return listener == null ? new HandshakeStats(0, 0, 0, 0, 0) : listener.stats();
    }

    /**
     * Messages dropped because they arrived before a receive asked for them and the node held as
     * many such bytes as it may ({@link NodeBuilder#maxUnexpectedBytes}), and chunks of
     * rendezvous messages let go of because no receive will read them (their header was dropped,
     * never came, or the message had fewer chunks).
     */
    public long droppedMessages() {
        return underLock(() -> messaging.unexpected.dropped());
    }

    /** Bytes of messages held for receives not yet posted, with their overhead: for tests. */
    long heldUnexpectedBytes() {
        return underLock(() -> messaging.unexpected.heldBytes());
    }

    /** Chunks of rendezvous messages taken off UCX before their receive posted for them: for tests. */
    long takenEarlyChunks() {
        return underLock(() -> messaging.unexpected.chunks.taken());
    }

    /** The most such chunks the node kept at once, waiting for their receive: for tests. */
    long mostKeptEarlyChunks() {
        return underLock(() -> messaging.unexpected.chunks.mostKept());
    }

    /** Pieces of the node's memory taken for UCX in place of confined arenas' ({@link ConfinedMemory}): for tests. */
    long confinedPiecesTaken() {
        return ctx.confinedMemory.taken();
    }

    /** The operations this node has not finished with UCX: for tests that look for leaks. */
    int operations() {
        return (int) underLock(ctx.engine::operations);
    }

    /** {@code read} of state guarded by the node's lock, for a thread outside the node. */
    private long underLock(LongSupplier read) {
        ctx.lock.lock();
        try {
            return read.getAsLong();
        } finally {
            ctx.lock.unlock();
        }
    }

    /** Bytes registered now (the device's count: cached and in use). */
    public long registeredBytes() {
        return device.registeredBytes();
    }

    /** Most bytes registered at once since the node started or {@link #resetPeakRegisteredBytes()}. */
    public long peakRegisteredBytes() {
        return device.peakRegisteredBytes();
    }

    /** Starts measuring the peak anew from what is registered now. */
    public void resetPeakRegisteredBytes() {
        device.resetPeakRegisteredBytes();
    }

    /**
     * The registration cache of rendezvous chunks. With caching off
     * ({@link NodeBuilder#cacheRegistrations}) it keeps nothing unused: every chunk is
     * deregistered when its transfer is done.
     */
    public RegistrationCache cache() {
        return cache;
    }

    /** The next endpoint a peer opened to this node's listener, or null. */
    public Endpoint accepted() {
        return connections.accepted();
    }

    /**
     * Connects to the node listening at {@code host:port} and completes the handshake.
     *
     * @throws TransportException when nothing answers within the connect timeout (unknown peer),
     *     the peer refuses (also as busy, while it holds its {@code maxPeers} connections), UCX
     *     cannot reach it, or this node holds its {@link NodeBuilder#maxPeers} connections
     * @throws IllegalStateException when called inside the node's progress (a completion stage)
     */
    public Endpoint connect(String host, int port) {
        ctx.engine.outsideProgress("Node.connect()");
        return connections.connect(host, port);
    }

    /**
     * Connects to a node by its {@link #workerAddress()}, without the listener's handshake.
     *
     * @throws IllegalArgumentException when the bytes are not a memreg node address or are damaged
     * @throws TransportException when the node uses another version or error mode, or does not answer
     *     (a node that holds its {@code maxPeers} connections drops the hello), or this node holds
     *     its {@link NodeBuilder#maxPeers} connections
     * @throws IllegalStateException when called inside the node's progress (a completion stage)
     */
    public Endpoint connect(byte[] workerAddress) {
        ctx.engine.outsideProgress("Node.connect()");
        return connections.connect(workerAddress);
    }

    /**
     * Receives the next message sent under {@code tag} by any peer into {@code buffer} (native,
     * writable, its arena open until the future completes). The future completes with the
     * message's length, or fails when it does not fit, its sender fails or the rendezvous times
     * out. Cancelling the future withdraws a receive not yet matched, its buffer the caller's again
     * when {@code cancel} returns true; once a message matched, {@code cancel} returns false and
     * the future completes with it. Only the node completes the future: its {@code complete},
     * {@code orTimeout} and the like throw {@link UnsupportedOperationException} while it is not
     * done. A buffer serves one receive at a time: a rendezvous message's chunks go into it, so
     * another receive writing into it meanwhile fails one or both. An eager message (at most
     * {@link NodeBuilder#MAX_EAGER_BYTES}) and a rendezvous header first land in the node's own
     * memory and are copied into the buffer only if its arena is still open: a caller that closed
     * it under the posted receive (a try-with-resources around a {@code get} that timed out) has
     * the message dropped, the future failed with {@link TransportException}, and a rendezvous
     * sender refused, rather than the message written into freed memory. Once a rendezvous
     * message's chunks go into the buffer, a shared arena is held open until the future is done
     * (its {@code close()} throws {@link IllegalStateException}; {@link org.memreg.util.ArenaHold}).
     * A confined arena cannot be held: a rendezvous message for it lands in the node's memory and
     * is copied into the buffer at the end, if its arena is still open (one copy; memory of a
     * shared or automatic arena takes the chunks itself). Once the owner of a confined buffer has
     * waited for the future and the wait ended without it (a timeout, an interrupt), what comes
     * for it waits until the owner looks at the future again ({@code get}, {@code join}, {@code
     * isDone}, ...), which copies it in on the owner's thread; if the owner closed the arena
     * instead, the future fails with {@link TransportException} at the node's next progress.
     *
     * @throws IllegalArgumentException when the tag is out of range or the buffer is not native or
     *     is read-only
     * @throws IllegalStateException when the buffer's arena is closed
     * @throws WrongThreadException when the buffer is confined to another thread
     */
    public CompletableFuture<Long> receive(long tag, MemorySegment buffer) {
        return messaging.receive(tag, buffer);
    }

    /**
     * Allocates and registers a window of {@code bytes} (rounded up to pages) that peers may access
     * with {@code access} ({@link Access#REMOTE_READ}, {@link Access#REMOTE_WRITE} or both).
     */
    public Window allocateWindow(long bytes, Access access) {
        return windows.allocate(bytes, access);
    }

    /**
     * Registers {@code memory}, which the caller allocated and keeps owning, as a window peers may
     * access with {@code access} (MPI_Win_create style). It must be whole pages (address and size
     * multiples of the page size: UCX maps whole pages, and a partial page would expose its
     * neighbours to peers). The memory must stay mapped until the
     * window is closed; closing unregisters it and leaves it mapped. The window holds {@code
     * memory} until then, so memory of an automatic arena lives while the window does, and a
     * shared arena is held open ({@link org.memreg.util.ArenaHold}: its {@code close()} throws
     * {@link IllegalStateException} until the window is closed). Memory of a confined arena is
     * refused: its owner may close it at any moment, under peers' puts and gets. Peers on
     * this host reach such memory through cross-memory attach or UCX's emulation rather than a
     * shared segment, so RMA is slower than into an {@link #allocateWindow allocated} window; use it
     * where the memory must be of a kind memreg chooses (for instance one userfaultfd can watch).
     *
     * @throws IllegalArgumentException when the memory is not native whole pages, is of a
     *     confined arena, or is read-only and {@code access} lets peers write
     * @throws IllegalStateException when the memory's arena is closed, or its shared arena cannot be
     *     held ({@link org.memreg.util.ArenaHold#MAX_HOLDS} held at once already)
     */
    public Window registerWindow(MemorySegment memory, Access access) {
        return windows.register(memory, access);
    }

    /**
     * Progresses UCX once and completes what finished: for nodes without a progress thread.
     * Returns the number of UCX events progressed.
     *
     * @throws IllegalStateException when called inside the node's progress (a completion stage)
     */
    public int progress() {
        return ctx.engine.progress();
    }

    /**
     * Waits for {@code future} up to the node's timeout (progressing it without a progress
     * thread), then throws {@link TransportException} ({@code UCS_ERR_TIMED_OUT}). The future of
     * an operation on the caller's memory is first withdrawn (a receive not yet matched); where
     * UCX still holds the memory (a send, a put, a get, a receive under way) the wait goes on
     * until it lets go, and returns or throws as the future completes: the memory is the
     * caller's again when this returns or throws.
     */
    public <T> T await(CompletableFuture<T> future) {
        for (;;) {
            try {
                return ctx.engine.await(future, ctx.timeoutNanos, null);
            } catch (TransportException e) {
                boolean lent = e.status() == Ucp.ERR_TIMED_OUT && !future.isDone() && TransportFuture.isLent(future);
                if (!lent || future.cancel(false)) {
                    throw e;
                }
            }
        }
    }

    /** The progress engine, for tests. */
    ProgressEngine engine() {
        return ctx.engine;
    }

    // ---------------------------------------------------------------- closing

    /**
     * Closes the node (see the class comment); twice is harmless. When it returns, none of its
     * operations holds a caller's arena any more: the arenas may close.
     *
     * @throws IllegalStateException when called inside the node's progress (a completion stage of
     *     one of its futures): close it from another thread or an async stage
     */
    @Override
    public void close() {
        ctx.engine.outsideProgress("Node.close()"); // the round it runs in would go on with a destroyed worker
        closing = true; // before the endpoints close: isClosed() tells their close from a peer's going
        if (listener != null) {
            listener.close(); // first: no new peer while the node goes
        }
        List<Endpoint> endpoints;
        ctx.lock.lock();
        try {
            if (ctx.closed) {
                return;
            }
            endpoints = connections.snapshot();
        } finally {
            ctx.unlockAndWake();
        }
        windows.closeAll();
        connections.close(endpoints);
        if (ctx.engine.hasThread()) {
            ctx.engine.wake();
        }
        ctx.closed = true;
        ctx.engine.join();
        TransportException closing = new TransportException("node is closing", Ucp.ERR_CANCELED);
        List<Op> released;
        ctx.lock.lock();
        try {
            released = ctx.engine.abortAll(closing);
            windows.unmapAll(); // closed now: no new mapping; the endpoints' close may have left keys to the worker
            Closing.all(cache, device, worker, context, arena); // each one, whatever the one before did
        } finally {
            ctx.unlockAndWake();
        }
        ctx.lock.closed();
        released.forEach(op -> op.closed(closing)); // the worker is gone: UCX holds no caller's memory now
        if (!ctx.engine.heldCompletions.awaitNone(TimeUnit.SECONDS.toNanos(10))) { // holders return at once when released
            System.getLogger(Node.class.getName()).log(System.Logger.Level.WARNING, "node " + name + " closed while"
                    + " callers' arenas were still held after 10 s; closing them may throw for a while");
        }
    }

    @Override
    public String toString() {
        return String.format("Node[%s %016x port %d]", name, id, port);
    }
}
