package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.UcxDevice;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxWorker;

/**
 * A memreg transport node: one UCX context and worker, an optional listener, the endpoints to
 * peers, a {@link UcxDevice} with a {@link RegistrationCache} for rendezvous chunks, and the
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
 * {@code UCS_THREAD_MODE_SERIALIZED}); any thread may send, receive, put and get.
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
 * <p>Closing closes endpoints, unmaps windows and registrations, then UCX. Twice is harmless.
 */
// Implementation: this class owns the UCX resources, the settings, the one lock and the node's
// lifecycle; the work is done by its parts, which share that lock: Connections (handshake,
// endpoint registry), Messaging (tagged send and receive), Windows (windows, revocation, keys,
// put/get) and ProgressEngine (the operations in flight and the progress thread).
public final class Node implements AutoCloseable {
    static final SecureRandom RANDOM = new SecureRandom();

    final UcxContext context;
    final UcxWorker worker;
    final UcxDevice device;
    final RegistrationCache cache;
    final long chunkBytes;
    final long eagerBytes;
    final int pipelineDepth;
    final long timeoutNanos;
    final long connectTimeoutNanos;
    final ErrorMode errorMode;
    /** The shared secret peers must prove, or null. */
    final Secret secret;
    final long maxWindowBytes;
    private final String name;
    private final long id;
    private final int port;
    /** {@link #workerAddress()}: never changes, so computed once. */
    private final byte[] address;
    /** The worker's raw UCX address, for the hello to a peer. */
    final byte[] ucxAddress;
    /** The listener, or null. */
    private final HandshakeServer listener;
    /** The node's one lock: every UCX call and all the parts' state are under it. */
    final ReentrantLock lock = new ReentrantLock();
    final Arena arena = Arena.ofShared();
    final Connections connections;
    final Messaging messaging;
    final Windows windows;
    final ProgressEngine engine;
    private volatile long peakRegisteredBytes;
    volatile boolean closed;

    Node(NodeBuilder b) {
        this.chunkBytes = b.chunkBytes;
        this.eagerBytes = b.eagerBytes;
        this.pipelineDepth = b.pipelineDepth;
        this.timeoutNanos = b.timeout.toNanos();
        this.connectTimeoutNanos = b.connectTimeout.toNanos();
        this.errorMode = b.errorMode;
        this.secret = b.secret;
        this.maxWindowBytes = b.maxWindowBytes;
        this.name = b.name;
        this.id = RANDOM.nextLong() | 1;
        this.context = UcxContext.create(b.ucxSettings(), b.progressThread);
        UcxWorker w = null;
        UcxDevice d = null;
        RegistrationCache c = null;
        HandshakeServer l = null;
        byte[] a;
        byte[] u;
        try {
            w = UcxWorker.create(context);
            d = UcxDevice.builder().context(context).build();
            c = b.cacheRegistrations ? RegistrationCache.builder(d).maxBytes(b.cacheBytes).merge(false)
                    .monitor(MemoryMonitors.named(b.monitor, NodeBuilder.MONITOR_PROP_NAME)).statsName("none")
                    .build() : null;
            u = w.address();
            if (u.length > ControlReceive.BUFFER_BYTES - 128) {
                throw new TransportException("UCX's worker address of " + u.length + " bytes does not fit a hello;"
                        + " restrict UCX's devices (memreg.transport.netDevices)", Ucp.ERR_INVALID_PARAM);
            }
            a = new NodeAddress(Handshake.VERSION, errorMode, id, u).toBytes();
            if (b.listen != null) {
                l = new HandshakeServer(b.listen, name, id, errorMode, secret, a, new HandshakeServer.Limits(
                        b.maxPendingHandshakes, b.handshakeTimeout.toNanos(), b.connectionRate));
            }
        } catch (RuntimeException e) {
            for (AutoCloseable made : new AutoCloseable[] {c, d, w, context}) {
                try {
                    if (made != null) {
                        made.close();
                    }
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        this.worker = w;
        this.device = d;
        this.cache = c;
        this.listener = l;
        this.address = a;
        this.ucxAddress = u;
        this.port = l == null ? 0 : l.port();
        this.connections = new Connections(this);
        this.messaging = new Messaging(this);
        this.windows = new Windows(this);
        List<Op> control = List.of(new ControlReceive(this, Tags.UNASKED, Tags.UNASKED_MASK, true, this::onUnasked));
        this.engine = new ProgressEngine(this, control, b.progressThread, b.idleSpin.toNanos(), b.waitSpin.toNanos(),
                name);
        engine.start();
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
     * This node's address, for peers that {@link #connect(byte[])} to it without the listener's
     * handshake: its UCX worker address with its handshake version, error mode, node id and a
     * checksum. Whoever holds it can reach this node's worker through UCX; hand it only to peers
     * you trust (the listener hands it out only after the handshake, and with a secret only to
     * peers that proved it).
     */
    public byte[] workerAddress() {
        checkOpen();
        return address.clone();
    }

    /** What the listener did with the connections offered to it (all zero without a listener). */
    public HandshakeStats handshakeStats() {
        return listener == null ? new HandshakeStats(0, 0, 0, 0, 0) : listener.stats();
    }

    /** Bytes registered now (the device's count: cached and in use). */
    public long registeredBytes() {
        return device.registeredBytes();
    }

    /** Most bytes registered at once since the node started or {@link #resetPeakRegisteredBytes()}. */
    public long peakRegisteredBytes() {
        return peakRegisteredBytes;
    }

    /** Starts measuring the peak anew from what is registered now. */
    public void resetPeakRegisteredBytes() {
        peakRegisteredBytes = device.registeredBytes();
    }

    /** The registration cache of rendezvous chunks, or null when caching is off. */
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
     *     the peer refuses, or UCX cannot reach it
     */
    public Endpoint connect(String host, int port) {
        return connections.connect(host, port);
    }

    /**
     * Connects to a node by its {@link #workerAddress()}, without the listener's handshake.
     *
     * @throws IllegalArgumentException when the bytes are not a memreg node address or are damaged
     * @throws TransportException when the node uses another version or error mode, or does not answer
     */
    public Endpoint connect(byte[] workerAddress) {
        return connections.connect(workerAddress);
    }

    /**
     * Receives the next message sent under {@code tag} by any peer into {@code buffer} (native).
     * The future completes with the message's length, or fails when it does not fit, its sender
     * fails or the rendezvous times out; cancelling the future withdraws a receive not yet matched.
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
     * window is closed; closing unregisters it and leaves it mapped. Peers on this host reach such
     * memory through cross-memory attach or UCX's emulation rather than a shared segment, so RMA
     * is slower than into an {@link #allocateWindow allocated} window; use it where the memory must
     * be of a kind memreg chooses (for instance one userfaultfd can watch).
     */
    public Window registerWindow(MemorySegment memory, Access access) {
        return windows.register(memory, access);
    }

    /**
     * Progresses UCX once and completes what finished: for nodes without a progress thread.
     * Returns the number of UCX events progressed.
     */
    public int progress() {
        return engine.progress();
    }

    /** Waits for {@code future} up to the node's timeout (progressing it without a progress thread). */
    public <T> T await(CompletableFuture<T> future) {
        return engine.await(future, timeoutNanos, null);
    }

    // ---------------------------------------------------------------- for the parts and operations

    void notePinned() {
        long now = device.registeredBytes();
        if (now > peakRegisteredBytes) {
            peakRegisteredBytes = now;
        }
    }

    TransportException timedOut(String what) {
        return new TransportException(what + " timed out after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms",
                Ucp.ERR_TIMED_OUT);
    }

    static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        RANDOM.nextBytes(bytes);
        return bytes;
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

    // ---------------------------------------------------------------- closing

    @Override
    public void close() {
        if (listener != null) {
            listener.close(); // first: no new peer while the node goes
        }
        List<Endpoint> endpoints;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            endpoints = connections.snapshot();
        } finally {
            unlockAndWake();
        }
        windows.closeAll();
        for (Endpoint endpoint : endpoints) {
            connections.close(endpoint);
        }
        if (engine.hasThread()) {
            engine.wake();
        }
        closed = true;
        engine.join();
        lock.lock();
        try {
            engine.abortAll(new TransportException("node is closing", Ucp.ERR_CANCELED));
            if (cache != null) {
                cache.close();
            }
            device.close();
            worker.close();
            context.close();
            arena.close();
        } finally {
            unlockAndWake();
        }
    }

    @Override
    public String toString() {
        return String.format("Node[%s %016x port %d]", name, id, port);
    }
}
