package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.UcxDevice;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Poll;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxMemory;
import org.memreg.ucx.UcxWorker;

/**
 * A memreg transport node: one UCX context and worker, an optional listener, the endpoints to
 * peers, a {@link UcxDevice} with a {@link RegistrationCache} for rendezvous chunks, and the
 * windows it owns. Made by {@link #builder()}.
 *
 * <p><b>Progress.</b> With a progress thread (the default) a daemon thread drives UCX and
 * completes futures; without one the caller drives it with {@link #progress()} (a benchmark loop,
 * an event loop) and blocking calls such as {@link #connect} progress while they wait.
 *
 * <p><b>Threading.</b> All UCX calls happen under one lock (the worker is
 * {@code UCS_THREAD_MODE_SERIALIZED}); any thread may send, receive, put and get.
 *
 * <p><b>Connections.</b> A client connects by host and port (over TCP first, then UCX moves to
 * shared memory or stays on TCP between hosts) or by worker address (same host). A three-message
 * handshake (hello, reply, ack) tells both sides each other's node id and confirms the
 * connection; a peer that does not answer within the connect timeout is an unknown peer.
 *
 * <p>Closing closes endpoints, unmaps windows and registrations, then UCX. Twice is harmless.
 */
public final class Node implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Idle rounds the progress thread spins before it sleeps. */
    private static final int IDLE_SPINS = 2000;
    /** Longest sleep of the idle progress thread. */
    private static final int SLEEP_MILLIS = 10;

    final UcxContext context;
    final UcxWorker worker;
    final UcxDevice device;
    final RegistrationCache cache;
    final long chunkBytes;
    final long eagerBytes;
    final int pipelineDepth;
    final long timeoutNanos;
    private final long connectTimeoutNanos;
    private final ErrorMode errorMode;
    private final String name;
    private final long id;
    private final int port;
    private final ReentrantLock lock = new ReentrantLock();
    private final List<Op> ops = new ArrayList<>();
    private final Map<Long, Endpoint> byEp = new HashMap<>();
    private final Map<Long, Endpoint> byPeer = new HashMap<>();
    private final ArrayDeque<Endpoint> accepted = new ArrayDeque<>();
    private final Map<Long, Window> windows = new HashMap<>();
    /** Revoked generations of peers' windows: (owner ^ window id) -> highest revoked generation. */
    private final Map<List<Long>, Long> revoked = new HashMap<>();
    private final Map<Long, TransportException> failedPeers = new HashMap<>();
    /** Rendezvous sends in progress by message id, so that a receiver's refusal reaches its sender. */
    final Map<Long, RendezvousSendOp> rendezvousSends = new HashMap<>();
    private final ArrayDeque<MemorySegment> infos = new ArrayDeque<>();
    private final Arena arena = Arena.ofShared();
    private final Thread progressThread;
    /** The worker's event descriptor the idle progress thread sleeps on, or -1 (it parks instead). */
    private final int eventFd;
    private final MemorySegment pollFd;
    /** True while the progress thread is about to sleep or sleeps: threads that add work wake it. */
    private volatile boolean sleeping;
    private long nextRevokeId;
    private volatile long peakRegisteredBytes;
    private volatile boolean closed;

    Node(NodeBuilder b) {
        this.chunkBytes = b.chunkBytes;
        this.eagerBytes = b.eagerBytes;
        this.pipelineDepth = b.pipelineDepth;
        this.timeoutNanos = b.timeout.toNanos();
        this.connectTimeoutNanos = b.connectTimeout.toNanos();
        this.errorMode = b.errorMode;
        this.name = b.name;
        this.id = RANDOM.nextLong() | 1;
        this.context = UcxContext.create(b.ucx, b.progressThread);
        UcxWorker w = null;
        UcxDevice d = null;
        RegistrationCache c = null;
        int listenPort = 0;
        try {
            w = UcxWorker.create(context, id);
            d = UcxDevice.builder().context(context).build();
            c = b.cacheRegistrations ? RegistrationCache.builder(d).maxBytes(b.cacheBytes).merge(false)
                    .monitor(MemoryMonitors.named(b.monitor, NodeBuilder.MONITOR_PROP_NAME)).statsName("none")
                    .build() : null;
            if (b.listen != null) {
                listenPort = w.listen(b.listen);
            }
        } catch (RuntimeException e) {
            if (c != null) {
                c.close();
            }
            if (d != null) {
                d.close();
            }
            if (w != null) {
                w.close();
            }
            context.close();
            throw e;
        }
        this.worker = w;
        this.device = d;
        this.cache = c;
        this.port = listenPort;
        ops.add(new ControlReceive(this, Tags.HELLO, Tags.CTRL_TYPE_MASK, true, this::onHello));
        ops.add(new ControlReceive(this, Tags.ACK, Tags.CTRL_TYPE_MASK, true, this::onAck));
        ops.add(new ControlReceive(this, Tags.REVOKE, Tags.CTRL_TYPE_MASK, true, this::onRevoke));
        ops.add(new ControlReceive(this, Tags.REFUSE, Tags.CTRL_TYPE_MASK, true, this::onRefuse));
        this.eventFd = b.progressThread ? worker.eventFd() : -1;
        this.pollFd = Poll.allocate(arena, 1);
        if (eventFd >= 0) {
            Poll.set(pollFd, 0, eventFd, Poll.POLLIN);
        }
        if (b.progressThread) {
            progressThread = Thread.ofPlatform().daemon().name("memreg-progress-" + name).start(this::progressLoop);
        } else {
            progressThread = null;
        }
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

    /** This worker's address, for peers on the same host that {@link #connect(byte[])}. */
    public byte[] workerAddress() {
        lock.lock();
        try {
            checkOpen();
            return worker.address();
        } finally {
            unlockAndWake();
        }
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
        lock.lock();
        try {
            return accepted.poll();
        } finally {
            unlockAndWake();
        }
    }

    // ---------------------------------------------------------------- connecting

    /**
     * Connects to the node listening at {@code host:port} and completes the handshake.
     *
     * @throws TransportException when nothing answers within the connect timeout (unknown peer),
     *     the peer refuses, or UCX cannot reach it
     */
    public Endpoint connect(String host, int port) {
        InetSocketAddress address;
        try {
            address = new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new TransportException("unknown host " + host, e);
        }
        return handshake(host + ":" + port, () -> worker.connect(address, ucxErrorMode()), null);
    }

    /** Connects to a node on this host by its {@link #workerAddress()} (shared memory only). */
    public Endpoint connect(byte[] workerAddress) {
        byte[] copy = workerAddress.clone();
        return handshake("worker address", () -> worker.connect(copy, ucxErrorMode()), worker.address());
    }

    private interface EpFactory {
        long create();
    }

    private Endpoint handshake(String description, EpFactory factory, byte[] ourAddress) {
        long nonce = RANDOM.nextLong() & Tags.LOW48;
        CompletableFuture<Long> reply = new CompletableFuture<>();
        Endpoint endpoint;
        lock.lock();
        try {
            checkOpen();
            long ep;
            try {
                ep = factory.create();
            } catch (RuntimeException e) {
                throw new TransportException("cannot connect to " + description + ": " + e.getMessage(), e);
            }
            endpoint = new Endpoint(this, ep, 0, description);
            byEp.put(ep, endpoint);
            ops.add(new ControlReceive(this, Tags.REPLY | nonce, Tags.EXACT, false,
                    (tag, payload) -> reply.complete(payload.get(JAVA_LONG, 0))));
            byte[] address = ourAddress == null ? new byte[0] : ourAddress;
            MemorySegment hello = Arena.ofAuto().allocate(20 + address.length, 8);
            hello.set(JAVA_LONG, 0, id);
            hello.set(JAVA_LONG, 8, nonce);
            hello.set(JAVA_INT, 16, address.length);
            hello.asSlice(20).copyFrom(MemorySegment.ofArray(address));
            sendControl(endpoint, Tags.HELLO, hello);
        } finally {
            unlockAndWake();
        }
        long peer;
        try {
            peer = await(reply, connectTimeoutNanos, endpoint);
        } catch (TransportException e) {
            closeEndpoint(endpoint);
            throw new TransportException("no memreg node answered at " + description + " within "
                    + TimeUnit.NANOSECONDS.toMillis(connectTimeoutNanos) + " ms (unknown peer?): " + e.getMessage(),
                    e.status());
        }
        lock.lock();
        try {
            endpoint.peerId = peer;
            byPeer.put(peer, endpoint);
            MemorySegment ack = Arena.ofAuto().allocate(8, 8);
            ack.set(JAVA_LONG, 0, id);
            sendControl(endpoint, Tags.ACK, ack);
            endpoint.ready = true;
        } finally {
            unlockAndWake();
        }
        return endpoint;
    }

    private int ucxErrorMode() {
        return errorMode == ErrorMode.PEER ? Ucp.ERR_HANDLING_MODE_PEER : Ucp.ERR_HANDLING_MODE_NONE;
    }

    // Control handlers run under the lock, inside progress.

    private void onHello(long tag, MemorySegment payload) {
        long peer = payload.get(JAVA_LONG, 0);
        long nonce = payload.get(JAVA_LONG, 8) & Tags.LOW48;
        int addressLength = payload.get(JAVA_INT, 16);
        Endpoint endpoint = byPeer.get(peer);
        if (endpoint == null && addressLength > 0) {
            byte[] address = payload.asSlice(20, addressLength).toArray(JAVA_BYTE);
            try {
                long ep = worker.connect(address, ucxErrorMode());
                endpoint = new Endpoint(this, ep, peer, "worker address of " + Long.toHexString(peer));
                byEp.put(ep, endpoint);
                byPeer.put(peer, endpoint);
                accepted.add(endpoint);
            } catch (RuntimeException e) {
                return; // the client times out and says so
            }
        }
        if (endpoint == null) {
            return;
        }
        MemorySegment reply = Arena.ofAuto().allocate(8, 8);
        reply.set(JAVA_LONG, 0, id);
        sendControl(endpoint, Tags.REPLY | nonce, reply);
    }

    private void onRefuse(long tag, MemorySegment payload) {
        RendezvousSendOp op = rendezvousSends.get(payload.get(JAVA_LONG, 0));
        if (op != null) {
            op.refused(payload.get(JAVA_LONG, 8));
        }
    }

    /** Tells the sender of a rendezvous message that the receive buffer is too small (under the lock). */
    void refuse(long sender, long messageId, long bufferBytes) {
        Endpoint endpoint = byPeer.get(sender);
        if (endpoint == null || !endpoint.isUsable()) {
            return;
        }
        MemorySegment message = Arena.ofAuto().allocate(16, 8);
        message.set(JAVA_LONG, 0, messageId);
        message.set(JAVA_LONG, 8, bufferBytes);
        sendControl(endpoint, Tags.REFUSE, message);
    }

    private void onAck(long tag, MemorySegment payload) {
        Endpoint endpoint = byPeer.get(payload.get(JAVA_LONG, 0));
        if (endpoint != null) {
            endpoint.ready = true;
        }
    }

    private void acceptConnections() {
        long request;
        while ((request = worker.pollConnRequest()) != 0) {
            long peer;
            try {
                peer = worker.clientId(request);
            } catch (RuntimeException e) {
                worker.reject(request);
                continue;
            }
            long ep;
            try {
                ep = worker.accept(request, ucxErrorMode());
            } catch (RuntimeException e) {
                // UCX rejects and frees the request itself when ucp_ep_create fails on it (for
                // example a client with another error mode): rejecting it again touches freed memory.
                System.getLogger(Node.class.getName()).log(System.Logger.Level.WARNING,
                        "refused a connection from node " + Long.toHexString(peer) + ": " + e.getMessage());
                continue;
            }
            Endpoint endpoint = new Endpoint(this, ep, peer, "accepted from " + Long.toHexString(peer));
            byEp.put(ep, endpoint);
            byPeer.put(peer, endpoint);
            accepted.add(endpoint);
        }
    }

    private void endpointErrors() {
        long[] error;
        while ((error = worker.pollEndpointError()) != null) {
            Endpoint endpoint = byEp.get(error[0]);
            if (endpoint == null || endpoint.failure != null) {
                continue;
            }
            int status = (int) error[1];
            TransportException failure = new TransportException(String.format("peer node %016x (%s) failed: %s",
                    endpoint.peerId, endpoint.description, Ucp.statusString(status)), status);
            endpoint.failure = failure;
            failedPeers.put(endpoint.peerId, failure);
            long request = worker.closeEndpoint(endpoint.ep, true);
            ops.add(new RmaOp(this, endpoint, request, "close of a failed endpoint", new CompletableFuture<>(), null,
                    null));
            byEp.remove(endpoint.ep);
            if (byPeer.get(endpoint.peerId) == endpoint) {
                byPeer.remove(endpoint.peerId);
            }
        }
    }

    TransportException peerFailure(long peer) {
        return failedPeers.get(peer);
    }

    // ---------------------------------------------------------------- send / receive

    CompletableFuture<Long> send(Endpoint endpoint, long tag, MemorySegment data) {
        CompletableFuture<Long> future = new CompletableFuture<>();
        checkNative(data);
        lock.lock();
        try {
            if (!endpoint.isUsable() || closed) {
                future.completeExceptionally(endpoint.unusable("send"));
                return future;
            }
            if (data.byteSize() <= eagerBytes) {
                SendOp op = new SendOp(this, endpoint, tag, data, future);
                if (!op.finishedAtOnce()) {
                    ops.add(op);
                }
            } else {
                RendezvousSendOp op = new RendezvousSendOp(this, endpoint, tag, data, future);
                if (!op.poll(this, System.nanoTime())) {
                    ops.add(op);
                }
            }
        } finally {
            unlockAndWake();
        }
        return future;
    }

    /**
     * Receives the next message sent under {@code tag} by any peer into {@code buffer} (native).
     * The future completes with the message's length, or fails when it does not fit, its sender
     * fails or the rendezvous times out; cancelling the future withdraws a receive not yet matched.
     */
    public CompletableFuture<Long> receive(long tag, MemorySegment buffer) {
        Tags.checkUserTag(tag);
        checkNative(buffer);
        CompletableFuture<Long> future = new CompletableFuture<>();
        lock.lock();
        try {
            if (closed) {
                future.completeExceptionally(new TransportException("node is closed", Ucp.ERR_CANCELED));
                return future;
            }
            ReceiveOp op = new ReceiveOp(this, tag, buffer, future);
            if (!op.finishedAtOnce(this)) {
                ops.add(op);
            }
        } finally {
            unlockAndWake();
        }
        return future;
    }

    private static void checkNative(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("only native (off-heap) segments can be sent or received");
        }
    }

    long nextMessageId() {
        return RANDOM.nextLong() & Tags.ID_MASK;
    }

    MemorySegment takeInfo() {
        MemorySegment info = infos.poll();
        return info != null ? info : arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    }

    void giveInfo(MemorySegment info) {
        infos.push(info);
    }

    void notePinned() {
        long now = device.registeredBytes();
        if (now > peakRegisteredBytes) {
            peakRegisteredBytes = now;
        }
    }

    private void sendControl(Endpoint endpoint, long tag, MemorySegment payload) {
        SendOp op = new SendOp(this, endpoint, tag, payload, new CompletableFuture<>());
        if (!op.finishedAtOnce()) {
            ops.add(op);
        }
    }

    TransportException timedOut(String what) {
        return new TransportException(what + " timed out after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms",
                Ucp.ERR_TIMED_OUT);
    }

    // ---------------------------------------------------------------- windows

    /**
     * Allocates and registers a window of {@code bytes} (rounded up to pages) that peers may access
     * with {@code access} ({@link Access#REMOTE_READ}, {@link Access#REMOTE_WRITE} or both).
     */
    public Window allocateWindow(long bytes, Access access) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("window size must be positive: " + bytes);
        }
        int prot = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | (access.remoteRead() ? Ucp.PROT_REMOTE_READ : 0)
                | (access.remoteWrite() ? Ucp.PROT_REMOTE_WRITE : 0);
        lock.lock();
        try {
            checkOpen();
            UcxMemory memory = context.allocate(bytes, prot);
            long windowId;
            do {
                windowId = RANDOM.nextLong();
            } while (windowId == 0 || windows.containsKey(windowId));
            Window window = new Window(this, windowId, memory, access);
            windows.put(windowId, window);
            return window;
        } finally {
            unlockAndWake();
        }
    }

    void closeWindow(Window window, UcxMemory memory) {
        lock.lock();
        try {
            windows.remove(window.id());
            memory.close();
        } finally {
            unlockAndWake();
        }
    }

    /**
     * Tells every usable endpoint that generation {@code generation} of window {@code windowId}
     * is revoked and waits until each acknowledged (after flushing its operations to us), failed,
     * or the timeout passed.
     */
    void revoke(long windowId, long generation) {
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        List<ControlReceive> receives = new ArrayList<>();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            long revokeId = ++nextRevokeId & Tags.LOW48;
            for (Endpoint endpoint : byEp.values()) {
                if (!endpoint.isUsable() || endpoint.peerId == 0) {
                    continue;
                }
                CompletableFuture<Long> ack = new CompletableFuture<>();
                ControlReceive receive = new ControlReceive(this, Tags.REVOKE_ACK | revokeId, Tags.EXACT, false,
                        (tag, payload) -> ack.complete(payload.get(JAVA_LONG, 0)));
                ops.add(receive);
                receives.add(receive);
                acks.add(ack);
                MemorySegment message = Arena.ofAuto().allocate(32, 8);
                message.set(JAVA_LONG, 0, id);
                message.set(JAVA_LONG, 8, windowId);
                message.set(JAVA_LONG, 16, generation);
                message.set(JAVA_LONG, 24, revokeId);
                sendControl(endpoint, Tags.REVOKE, message);
            }
        } finally {
            unlockAndWake();
        }
        long deadline = System.nanoTime() + Math.min(timeoutNanos, TimeUnit.SECONDS.toNanos(5));
        for (CompletableFuture<Long> ack : acks) {
            try {
                await(ack, Math.max(1, deadline - System.nanoTime()), null);
            } catch (TransportException e) {
                // a peer that failed or does not answer is skipped: it cannot reach the memory after unmap
                // through shared memory (UCX-allocated segments outlive our mapping), nor over TCP
            }
        }
        lock.lock();
        try {
            receives.forEach(r -> r.cancel(this));
        } finally {
            unlockAndWake();
        }
    }

    private void onRevoke(long tag, MemorySegment payload) {
        long owner = payload.get(JAVA_LONG, 0);
        long windowId = payload.get(JAVA_LONG, 8);
        long generation = payload.get(JAVA_LONG, 16);
        long revokeId = payload.get(JAVA_LONG, 24) & Tags.LOW48;
        revoked.merge(List.of(owner, windowId), generation, Math::max);
        Endpoint toOwner = byPeer.get(owner);
        List<RemoteWindow> stale = new ArrayList<>();
        for (Endpoint endpoint : byEp.values()) {
            RemoteWindow attached = endpoint.peerId == owner ? endpoint.keys.get(windowId) : null;
            if (attached != null && attached.key.generation() <= generation) {
                attached.revoked = true;
                endpoint.keys.remove(windowId);
                stale.add(attached);
            }
        }
        if (toOwner == null || !toOwner.isUsable()) {
            stale.forEach(this::destroyRkey);
            return;
        }
        // Flush what we issued to the owner, then drop the keys and acknowledge.
        long request = worker.flushEndpoint(toOwner.ep);
        ops.add(new RmaOp(this, toOwner, request, "flush before revoke acknowledgement", new CompletableFuture<>(),
                null, () -> {
                    stale.forEach(this::destroyRkey);
                    MemorySegment ack = Arena.ofAuto().allocate(8, 8);
                    ack.set(JAVA_LONG, 0, id);
                    if (toOwner.isUsable()) {
                        sendControl(toOwner, Tags.REVOKE_ACK | revokeId, ack);
                    }
                }));
    }

    private void destroyRkey(RemoteWindow window) {
        if (window.rkey != 0) {
            worker.destroyRkey(window.rkey);
            window.rkey = 0;
        }
    }

    RemoteWindow attach(Endpoint endpoint, WindowKey key) {
        lock.lock();
        try {
            if (!endpoint.isUsable() || closed) {
                throw endpoint.unusable("attach " + key);
            }
            if (key.owner() != endpoint.peerId) {
                throw new TransportException(String.format("%s belongs to node %016x, not to the peer of %s", key,
                        key.owner(), endpoint), Ucp.ERR_INVALID_PARAM);
            }
            Long revokedGeneration = revoked.get(List.of(key.owner(), key.windowId()));
            if (revokedGeneration != null && key.generation() <= revokedGeneration) {
                throw new StaleWindowException(key.windowId(), key.generation(), "revoked by its owner");
            }
            RemoteWindow cached = endpoint.keys.get(key.windowId());
            if (cached != null && cached.key.generation() == key.generation()) {
                return cached;
            }
            long rkey = worker.unpackRkey(endpoint.ep, key.rkey());
            RemoteWindow window = new RemoteWindow(endpoint, key, rkey);
            if (cached != null) {
                cached.revoked = true;
                destroyRkey(cached);
            }
            endpoint.keys.put(key.windowId(), window);
            return window;
        } finally {
            unlockAndWake();
        }
    }

    CompletableFuture<Void> rma(RemoteWindow window, boolean put, long offset, MemorySegment local) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        String what = (put ? "put of " : "get of ") + local.byteSize() + " bytes at offset " + offset;
        WindowKey key = window.key;
        if (!local.isNative()) {
            future.completeExceptionally(new IllegalArgumentException("only native segments: " + what));
            return future;
        }
        if (offset < 0 || local.byteSize() > key.length() - offset || offset > key.length()) {
            future.completeExceptionally(new IndexOutOfBoundsException(what + " is outside the " + key.length()
                    + "-byte window " + Long.toHexString(key.windowId())));
            return future;
        }
        if (put ? !key.access().remoteWrite() : !key.access().remoteRead()) {
            future.completeExceptionally(new UnsupportedOperationException(what + ": window "
                    + Long.toHexString(key.windowId()) + " grants only " + key.access()));
            return future;
        }
        lock.lock();
        try {
            Endpoint endpoint = window.endpoint;
            if (!endpoint.isUsable() || closed) {
                future.completeExceptionally(endpoint.unusable(what));
                return future;
            }
            Long revokedGeneration = revoked.get(List.of(key.owner(), key.windowId()));
            if (window.revoked || window.rkey == 0
                    || (revokedGeneration != null && key.generation() <= revokedGeneration)) {
                future.completeExceptionally(new StaleWindowException(key.windowId(), key.generation(),
                        "closed or invalidated by its owner; " + what + " not sent"));
                return future;
            }
            long remote = key.address() + offset;
            // Large transfers hand UCX the local buffer's registration (through the cache), as for
            // rendezvous chunks: without a memory handle UCX moves them in bounce-buffer fragments.
            Chunk chunk = local.byteSize() > eagerBytes && local.byteSize() <= chunkBytes
                    ? Chunk.register(this, local.address(), local.byteSize(), put ? Access.LOCAL_READ : Access.LOCAL_WRITE)
                    : null;
            long memh = chunk == null ? 0 : chunk.memh;
            long request = put
                    ? worker.put(endpoint.ep, local.address(), local.byteSize(), remote, window.rkey, memh)
                    : worker.get(endpoint.ep, local.address(), local.byteSize(), remote, window.rkey, memh);
            RmaOp op = new RmaOp(this, endpoint, request, what, future, null, chunk == null ? null : chunk::release);
            if (!op.poll(this, System.nanoTime())) {
                ops.add(op);
            }
        } finally {
            unlockAndWake();
        }
        return future;
    }

    CompletableFuture<Void> flush(Endpoint endpoint) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        lock.lock();
        try {
            if (!endpoint.isUsable() || closed) {
                future.completeExceptionally(endpoint.unusable("flush"));
                return future;
            }
            RmaOp op = new RmaOp(this, endpoint, worker.flushEndpoint(endpoint.ep), "flush", future, null, null);
            if (!op.poll(this, System.nanoTime())) {
                ops.add(op);
            }
        } finally {
            unlockAndWake();
        }
        return future;
    }

    // ---------------------------------------------------------------- progress

    /**
     * Progresses UCX once and completes what finished: for nodes without a progress thread.
     * Returns the number of UCX events progressed.
     */
    public int progress() {
        lock.lock();
        try {
            return closed ? 0 : progressLocked();
        } finally {
            unlockAndWake();
        }
    }

    private int progressLocked() {
        int events = worker.progress();
        acceptConnections();
        endpointErrors();
        long now = System.nanoTime();
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            boolean done;
            try {
                done = op.poll(this, now);
            } catch (RuntimeException | Error e) { // a bug must fail one operation, not stop progress
                done = true;
                try {
                    op.abort(this, new TransportException("internal error in " + op.getClass().getSimpleName(), e));
                } catch (RuntimeException ignored) {
                    // the operation is dropped either way
                }
            }
            if (done) {
                int last = ops.size() - 1;
                ops.set(i, ops.get(last));
                ops.remove(last);
                i--;
            }
        }
        return events;
    }

    private void progressLoop() {
        int idle = 0;
        while (!closed) {
            int events = 0;
            if (lock.tryLock()) {
                try {
                    if (!closed) {
                        events = progressLocked();
                    }
                } finally {
                    unlockAndWake();
                }
            }
            if (events > 0) {
                idle = 0;
            } else if (++idle > IDLE_SPINS) {
                sleepUntilEvent(); // idle: give the CPU back (2 vCPUs here)
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * The idle progress thread sleeps until UCX has an event (the worker armed, then poll on its
     * event descriptor) or another thread adds work ({@link #wake()}), at most
     * {@value #SLEEP_MILLIS} ms so that deadlines are checked. Parking 50 µs instead cost up to
     * ~100 µs per message when both peers were idle. Without an event descriptor it parks.
     */
    private void sleepUntilEvent() {
        if (eventFd < 0) {
            LockSupport.parkNanos(50_000);
            return;
        }
        sleeping = true; // before arming: work added after the arm sees it and signals
        try {
            boolean armed = false;
            lock.lock();
            try {
                armed = !closed && progressLocked() == 0 && worker.arm() == Ucp.OK;
            } finally {
                lock.unlock();
            }
            if (armed && !closed) {
                Poll.poll(pollFd, 1, SLEEP_MILLIS);
            }
        } catch (LinuxException e) {
            LockSupport.parkNanos(50_000);
        } finally {
            sleeping = false;
        }
    }

    /** Wakes the progress thread when it sleeps: called after adding work outside of progress. */
    private void wake() {
        if (sleeping && !closed) { // close() joins the thread before the worker goes: it sleeps no more then
            worker.signal();
        }
    }

    private void unlockAndWake() {
        lock.unlock();
        wake();
    }

    /** Waits for {@code future}, progressing when there is no progress thread; fails after {@code nanos}. */
    <T> T await(CompletableFuture<T> future, long nanos, Endpoint endpoint) {
        long deadline = System.nanoTime() + nanos;
        try {
            if (progressThread != null && Thread.currentThread() != progressThread) {
                while (true) {
                    try {
                        return future.get(Math.min(10_000_000, Math.max(1, deadline - System.nanoTime())),
                                TimeUnit.NANOSECONDS);
                    } catch (TimeoutException e) {
                        if (endpoint != null && endpoint.failure != null) {
                            throw endpoint.failure;
                        }
                        if (System.nanoTime() - deadline > 0) {
                            throw new TransportException("timed out", Ucp.ERR_TIMED_OUT);
                        }
                    }
                }
            }
            while (!future.isDone()) {
                progress();
                if (endpoint != null && endpoint.failure != null) {
                    throw endpoint.failure;
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new TransportException("timed out", Ucp.ERR_TIMED_OUT);
                }
            }
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof TransportException t ? t : new TransportException("failed", e.getCause());
        }
    }

    /** Waits for {@code future} up to the node's timeout (progressing it without a progress thread). */
    public <T> T await(CompletableFuture<T> future) {
        return await(future, timeoutNanos, null);
    }

    // ---------------------------------------------------------------- closing

    void closeEndpoint(Endpoint endpoint) {
        long request;
        lock.lock();
        try {
            if (endpoint.closed) {
                return;
            }
            endpoint.closed = true;
            for (RemoteWindow window : endpoint.keys.values()) {
                window.revoked = true;
                destroyRkey(window);
            }
            endpoint.keys.clear();
            if (endpoint.failure != null || closed) {
                return; // a failed endpoint was force-closed when it failed
            }
            byEp.remove(endpoint.ep);
            if (byPeer.get(endpoint.peerId) == endpoint) {
                byPeer.remove(endpoint.peerId);
            }
            request = worker.closeEndpoint(endpoint.ep, errorMode == ErrorMode.PEER);
        } finally {
            unlockAndWake();
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        lock.lock();
        try {
            ops.add(new RmaOp(this, endpoint, request, "close", done, null, null));
        } finally {
            unlockAndWake();
        }
        try {
            await(done, TimeUnit.SECONDS.toNanos(2), null);
        } catch (TransportException e) {
            // the peer is gone or slow: UCX finishes the close in the background
        }
    }

    @Override
    public void close() {
        List<Endpoint> endpoints;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            endpoints = new ArrayList<>(byEp.values());
        } finally {
            unlockAndWake();
        }
        for (Window window : new ArrayList<>(windows.values())) {
            window.close();
        }
        for (Endpoint endpoint : endpoints) {
            closeEndpoint(endpoint);
        }
        if (progressThread != null) {
            wake();
        }
        closed = true;
        if (progressThread != null) {
            try {
                progressThread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        lock.lock();
        try {
            TransportException closing = new TransportException("node is closing", Ucp.ERR_CANCELED);
            for (Op op : ops) {
                op.abort(this, closing);
            }
            for (int i = 0; i < 100 && !ops.isEmpty(); i++) {
                progressLocked();
            }
            ops.clear();
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

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("node is closed");
        }
    }

    @Override
    public String toString() {
        return String.format("Node[%s %016x port %d]", name, id, port);
    }
}
