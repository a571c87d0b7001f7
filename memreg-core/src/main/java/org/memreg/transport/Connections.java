package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxWorker;
import org.memreg.util.Warnings;

/**
 * A node's connections: connecting (the listener's {@link Handshake} over TCP when by host and
 * port, then hello, reply and ack over UCX), answering a peer's hello, the endpoint registry by
 * UCX endpoint and by peer id, failed peers, and closing endpoints. Kept apart from the node so
 * that the exchange's two sides and the registry they fill read together.
 *
 * <p>The UCX hello carries the sender's node id, a nonce, the handshake version, its error mode,
 * its token for the receiver (below) and its UCX address, and with a secret a proof over all of
 * them: the receiver creates an endpoint to that address only when version and mode match and
 * the proof checks out.
 *
 * <p><b>Tokens.</b> UCX does not say which peer a tagged message came from, and a control message
 * names its sender in its payload: any peer that knew two node ids could speak for one to the
 * other (a forged bye closed that connection; a forged revoke made the node refuse a window for
 * good). So each node picks, per peer, a random token that peer must show on the control messages
 * it sends (ack, bye, revoke, describe), and tells it only to that peer: in its hello, or in its
 * reply to the peer's hello. A peer's tokens are fixed at first contact while any connection to
 * it lasts: a later hello for the same id (a second connection, or a forgery) changes nothing.
 * Once its last connection is gone (closed, or failed: a goodbye), they are forgotten, and the
 * peer starts afresh if it comes back (kept for good, they were some 100 bytes for every peer a
 * node ever met).
 *
 * <p>The registry is guarded by the node's lock; the control handlers and {@link
 * #endpointErrors()} run under it, inside progress.
 */
final class Connections {
    /** Bytes of the UCX hello before the address. */
    private static final int HELLO_FIXED = 32;
    private static final String HELLO_LABEL = "memreg-v1 ucx hello";
    private static final int FAILED_PEERS = 4096;
    /** How long closing endpoints waits for UCX to finish (then it finishes in the background). */
    private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Makes the public endpoint object for a UCX endpoint (the node's: an endpoint names its node). */
    @FunctionalInterface
    interface EndpointFactory {
        Endpoint make(long ep, long peerId, String description);
    }

    private final TransportContext ctx;
    private final UcxWorker worker;
    private final ReentrantLock lock;
    private final ErrorMode errorMode;
    /** The shared secret peers must prove, or null. */
    private final Secret secret;
    private final long connectTimeoutNanos;
    /** The worker's raw UCX address, for the hello to a peer. */
    private final byte[] ucxAddress;
    private final ConnectionLimit limit;
    private final EndpointFactory endpoints;
    private final Map<Long, Endpoint> byEp = new HashMap<>();
    private final Map<Long, Endpoint> byPeer = new HashMap<>();
    private final ArrayDeque<Endpoint> accepted = new ArrayDeque<>();
    /**
     * Why a peer's connection failed, by peer id, so that receives of its messages in progress fail
     * at once: taken out when the peer connects again (else every rendezvous message over the new
     * connection failed), and only the latest {@value #FAILED_PEERS} kept.
     */
    private final Map<Long, TransportException> failedPeers = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, TransportException> eldest) {
            return size() > FAILED_PEERS;
        }
    };
    /** Per peer id: {the token it must show us, the token we show it (0 until it told us)}. */
    private final Map<Long, long[]> tokens = new HashMap<>();
    /**
     * The token each of the latest {@value #FAILED_PEERS} peers whose last connection went had to
     * show us: a control message of theirs that comes late (a goodbye that crossed ours, after
     * they connected again with new tokens) is dropped without a forgery warning.
     */
    private final Map<Long, Long> departed = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            return size() > FAILED_PEERS;
        }
    };
    private final Warnings forged = new Warnings(Node.class,
            "memreg node dropped control messages without the sender's token");
    private final Warnings refusedHellos = new Warnings(Node.class, "memreg node dropped hellos");

    Connections(TransportContext ctx, ErrorMode errorMode, Secret secret, long connectTimeoutNanos, byte[] ucxAddress,
            ConnectionLimit limit, EndpointFactory endpoints) {
        this.ctx = ctx;
        this.worker = ctx.worker;
        this.lock = ctx.lock;
        this.errorMode = errorMode;
        this.secret = secret;
        this.connectTimeoutNanos = connectTimeoutNanos;
        this.ucxAddress = ucxAddress;
        this.limit = limit;
        this.endpoints = endpoints;
    }

    /** The node's {@code accepted()}. */
    Endpoint accepted() {
        lock.lock();
        try {
            return accepted.poll();
        } finally {
            lock.unlock(); // no work added: no wake (a caller polling this in a loop kept the progress thread awake)
        }
    }

    /** The node's {@code connect(host, port)}. */
    Endpoint connect(String host, int port) {
        Objects.requireNonNull(host, "host");
        if (port < 1 || port > 65_535) {
            throw new IllegalArgumentException("port must be in [1, 65535]: " + port);
        }
        ctx.checkOpen();
        InetSocketAddress address;
        try {
            address = new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new TransportException("unknown host " + host, e);
        }
        String description = host + ":" + port;
        NodeAddress peer = Handshake.connectPatiently(address, description, ctx.nodeId, errorMode, secret,
                connectTimeoutNanos);
        return connect(peer, description);
    }

    /** The node's {@code connect(workerAddress)}. */
    Endpoint connect(byte[] workerAddress) {
        NodeAddress peer = NodeAddress.parse(Objects.requireNonNull(workerAddress, "workerAddress"));
        String description = String.format("worker address of %016x", peer.nodeId());
        if (peer.version() != Handshake.VERSION) {
            throw new TransportException("the node at the " + description + " speaks version " + peer.version()
                    + ", this node " + Handshake.VERSION, Ucp.ERR_INVALID_PARAM);
        }
        if (peer.errorMode() != errorMode) {
            throw new TransportException("the node at the " + description + " uses error mode " + peer.errorMode()
                    + ", this node " + errorMode + ": both sides must use the same memreg.transport.errorMode",
                    Ucp.ERR_INVALID_PARAM);
        }
        return connect(peer, description);
    }

    /** Creates the UCX endpoint to {@code peer}, then hello, reply, ack. */
    private Endpoint connect(NodeAddress peer, String description) {
        long nonce = TransportContext.RANDOM.nextLong() & Tags.LOW48;
        CompletableFuture<long[]> reply = ctx.engine.newFuture();
        Endpoint endpoint;
        ControlReceive replyReceive;
        lock.lock();
        try {
            ctx.checkOpen();
            if (limit.reached()) {
                throw new TransportException("cannot connect to " + description + ": " + limit.reason(),
                        Ucp.ERR_EXCEEDS_LIMIT);
            }
            long ep;
            try {
                ep = worker.connect(peer.ucx(), ucxErrorMode());
            } catch (RuntimeException e) {
                throw new TransportException("cannot connect to " + description + ": " + e.getMessage(), e);
            }
            endpoint = endpoints.make(ep, 0, description);
            endpoint.connectingTo = peer.nodeId();
            register(endpoint);
            replyReceive = new ControlReceive(ctx, Tags.REPLY | nonce, Tags.EXACT, false,
                    (tag, payload) -> reply.complete(new long[] {payload.get(JAVA_LONG, 0), payload.get(JAVA_LONG, 8)}));
            ctx.engine.add(replyReceive);
            ctx.sendControl(endpoint, Tags.HELLO, hello(nonce, tokensOf(peer.nodeId())[0]));
        } finally {
            ctx.unlockAndWake();
        }
        long[] answer;
        try {
            answer = ctx.engine.await(reply, connectTimeoutNanos, endpoint);
        } catch (TransportException e) {
            withdraw(replyReceive); // else it stayed posted for good, one per failed connect
            close(endpoint);
            throw new TransportException("no memreg node answered at " + description + " within "
                    + TimeUnit.NANOSECONDS.toMillis(connectTimeoutNanos) + " ms (unknown peer?): "
                    + e.getMessage(), e.status());
        }
        long peerId = answer[0];
        if (peerId != peer.nodeId()) { // its tokens were made for the id it claimed
            close(endpoint);
            throw new TransportException(String.format("the node at the %s answered as node %016x", description, peerId),
                    Ucp.ERR_INVALID_PARAM);
        }
        boolean usable;
        lock.lock();
        try {
            usable = !ctx.closed && endpoint.isUsable(); // else the node closed, or the peer went, as it answered
            if (usable) {
                endpoint.peerId = peerId;
                byPeer.put(peerId, endpoint);
                failedPeers.remove(peerId);
                long[] ours = tokensOf(peerId);
                if (ours[1] == 0) {
                    ours[1] = answer[1];
                }
                ctx.sendControl(endpoint, Tags.ACK, signed(peerId));
                endpoint.ready = true;
            }
        } finally {
            ctx.unlockAndWake();
        }
        if (!usable) {
            close(endpoint);
            throw endpoint.unusable("connect to " + description);
        }
        return endpoint;
    }

    /**
     * Destroys the UCX keys of a closed endpoint's windows once UCX closed it (under the lock):
     * not before, as UCX keeps the key of an operation in flight. If the node closes first, they
     * go with its worker.
     */
    private void destroy(List<RemoteWindow> keys) {
        if (!ctx.closed) {
            keys.forEach(window -> window.destroyRkey(worker));
        }
    }

    private void withdraw(ControlReceive receive) {
        lock.lock();
        try {
            receive.cancel(ctx);
        } finally {
            ctx.unlockAndWake();
        }
    }

    /**
     * The tokens for {@code peer} (under the lock): made at first contact, ours at random; the
     * one we show is 0 until the peer told us.
     */
    private long[] tokensOf(long peer) {
        return tokens.computeIfAbsent(peer, id -> new long[] {TransportContext.RANDOM.nextLong() | 1, 0});
    }

    /** A control payload from us to {@code peer}: our node id and the token we show it (under the lock). */
    MemorySegment signed(long peer, long... more) {
        long[] ours = tokens.get(peer);
        MemorySegment payload = Arena.ofAuto().allocate(16 + 8L * more.length, 8);
        payload.set(JAVA_LONG, 0, ctx.nodeId);
        payload.set(JAVA_LONG, 8, ours == null ? 0 : ours[1]);
        for (int i = 0; i < more.length; i++) {
            payload.set(JAVA_LONG, 16 + 8L * i, more[i]);
        }
        return payload;
    }

    /**
     * True when {@code payload} (a node id, then a token) came from that node: it shows the token
     * we gave it; else the message is dropped with a warning naming {@code what} (under the lock).
     * A message in the name of a node with no connection here is dropped without one (it names
     * nothing to act on: a peer's goodbye crosses ours when both close at once), and so is one
     * with the token of the peer's connection before (that goodbye, come after it connected again).
     */
    boolean fromSigner(MemorySegment payload, long bytes, String what) {
        if (payload.byteSize() != bytes) {
            forged.warn(what + " of " + payload.byteSize() + " bytes");
            return false;
        }
        long peer = payload.get(JAVA_LONG, 0);
        long[] ours = tokens.get(peer);
        long shown = payload.get(JAVA_LONG, 8);
        if (ours == null || ours[0] != shown && Objects.equals(departed.get(peer), shown)) {
            return false; // nobody to act on, or a message of an earlier connection
        }
        if (ours[0] != shown) {
            forged.warn(() -> String.format("%s in the name of node %016x", what, peer));
            return false;
        }
        return true;
    }

    private MemorySegment hello(long nonce, long token) {
        byte[] address = ucxAddress;
        boolean proven = secret != null;
        MemorySegment hello = Arena.ofAuto().allocate(HELLO_FIXED + address.length + (proven ? Secret.PROOF_BYTES : 0), 8);
        hello.set(JAVA_LONG, 0, ctx.nodeId);
        hello.set(JAVA_LONG, 8, nonce);
        hello.set(JAVA_SHORT, 16, (short) Handshake.VERSION);
        hello.set(JAVA_BYTE, 18, (byte) errorMode.ordinal());
        hello.set(JAVA_BYTE, 19, (byte) (proven ? 1 : 0));
        hello.set(JAVA_INT, 20, address.length);
        hello.set(JAVA_LONG, 24, token);
        hello.asSlice(HELLO_FIXED, address.length).copyFrom(MemorySegment.ofArray(address));
        if (proven) {
            byte[] proof = secret.proof(HELLO_LABEL, hello.asSlice(0, HELLO_FIXED + address.length).toArray(JAVA_BYTE));
            hello.asSlice(HELLO_FIXED + address.length).copyFrom(MemorySegment.ofArray(proof));
        }
        return hello;
    }

    private int ucxErrorMode() {
        return errorMode == ErrorMode.PEER ? Ucp.ERR_HANDLING_MODE_PEER : Ucp.ERR_HANDLING_MODE_NONE;
    }

    // Control handlers run under the lock, inside progress.

    void onHello(long tag, MemorySegment payload) {
        if (payload.byteSize() < HELLO_FIXED) {
            refusedHellos.warn("a hello of " + payload.byteSize() + " bytes");
            return;
        }
        long peer = payload.get(JAVA_LONG, 0);
        long nonce = payload.get(JAVA_LONG, 8) & Tags.LOW48;
        int version = Short.toUnsignedInt(payload.get(JAVA_SHORT, 16));
        int mode = payload.get(JAVA_BYTE, 18);
        boolean proven = payload.get(JAVA_BYTE, 19) == 1;
        int addressLength = payload.get(JAVA_INT, 20);
        long signed = HELLO_FIXED + (long) addressLength;
        if (addressLength <= 0 || signed + (proven ? Secret.PROOF_BYTES : 0) != payload.byteSize()) {
            refusedHellos.warn(() -> String.format("a malformed hello from node %016x", peer));
            return;
        }
        if (version != Handshake.VERSION || mode != errorMode.ordinal()) {
            refusedHellos.warn(() -> String.format("node %016x speaks version %d with error mode %s; this node %d with %s",
                    peer, version, Handshake.modeName(mode), Handshake.VERSION, errorMode));
            return;
        }
        if (secret != null && (!proven || !secret.verify(payload.asSlice(signed).toArray(JAVA_BYTE),
                HELLO_LABEL, payload.asSlice(0, signed).toArray(JAVA_BYTE)))) {
            refusedHellos.warn(() -> String.format("node %016x did not prove the shared transport secret", peer));
            return;
        }
        Endpoint endpoint = byPeer.get(peer);
        if (endpoint == null && limit.reached()) {
            refusedHellos.warn(() -> String.format("a hello from node %016x: %s", peer, limit.reason()));
            return; // the client times out; one that came through the listener was refused as busy there
        }
        if (endpoint == null) {
            byte[] address = payload.asSlice(HELLO_FIXED, addressLength).toArray(JAVA_BYTE);
            try {
                long ep = worker.connect(address, ucxErrorMode());
                endpoint = endpoints.make(ep, peer, "worker address of " + Long.toHexString(peer));
                register(endpoint);
                byPeer.put(peer, endpoint);
                failedPeers.remove(peer);
                accepted.add(endpoint);
            } catch (RuntimeException e) {
                refusedHellos.warn(String.format("cannot connect back to node %016x: %s", peer, e.getMessage()));
                return; // the client times out and says so
            }
        }
        long[] ours = tokens.get(peer);
        if (ours == null) { // first contact: the hello's token is the one to show this peer from now on
            ours = tokensOf(peer);
            ours[1] = payload.get(JAVA_LONG, 24);
        }
        MemorySegment reply = Arena.ofAuto().allocate(16, 8);
        reply.set(JAVA_LONG, 0, ctx.nodeId);
        reply.set(JAVA_LONG, 8, ours[0]);
        ctx.sendControl(endpoint, Tags.REPLY | nonce, reply);
    }

    void onAck(long tag, MemorySegment payload) {
        Endpoint endpoint = fromSigner(payload, 16, "an ack") ? byPeer.get(payload.get(JAVA_LONG, 0)) : null;
        if (endpoint != null) {
            endpoint.ready = true;
        }
    }

    void endpointErrors() {
        long[] error;
        while ((error = worker.pollEndpointError()) != null) {
            Endpoint endpoint = byEp.get(error[0]);
            if (endpoint != null) {
                int status = (int) error[1];
                fail(endpoint, new TransportException(String.format("peer node %016x (%s) failed: %s", endpoint.peerId,
                        endpoint.description, Ucp.statusString(status)), status));
            }
        }
    }

    /**
     * A put or get on {@code endpoint} passed the node's timeout while UCX holds it (under the
     * lock): in error mode PEER the endpoint fails, and UCX's forced close ends what it holds, as a
     * verbs queue pair goes to its error state; in NONE, where UCX refuses a forced close, nothing
     * is done. True when the endpoint failed.
     */
    boolean stalled(Endpoint endpoint, String what) {
        if (errorMode != ErrorMode.PEER || endpoint.closed || endpoint.failure != null) {
            return false;
        }
        TransportException timedOut = ctx.timedOut(what + " on " + endpoint);
        fail(endpoint, new TransportException(timedOut.getMessage() + ": the peer does not answer, and the endpoint"
                + " failed (error mode PEER): UCX cannot end the operation otherwise", timedOut.status()));
        return true;
    }

    /**
     * Control handler (under the lock, inside progress): a peer closed its endpoint to us. Every
     * endpoint to it fails: the peer answers none of their requests now and revokes none of their
     * keys, so a key attached through one of them would stay in use after its window went.
     */
    void onBye(long tag, MemorySegment payload) {
        Endpoint endpoint = fromSigner(payload, 16, "a bye") ? byPeer.get(payload.get(JAVA_LONG, 0)) : null;
        while (endpoint != null && endpoint.failure == null) {
            fail(endpoint, new TransportException(String.format("peer node %016x (%s) closed the connection",
                    endpoint.peerId, endpoint.description), Ucp.ERR_CONNECTION_RESET));
            endpoint = byPeer.get(endpoint.peerId); // the next one to that peer: fail() unregistered this one
        }
    }

    /** Marks {@code endpoint} failed for good and force-closes it (under the lock). */
    private void fail(Endpoint endpoint, TransportException failure) {
        if (endpoint.failure != null) {
            return;
        }
        endpoint.failure = failure;
        failedPeers.put(endpoint.peerId, failure);
        List<RemoteWindow> keys = endpoint.takeKeys();
        long request = worker.closeEndpoint(endpoint.ep, true);
        ctx.engine.add(new RmaOp(ctx, endpoint, request, "close of a failed endpoint", new CompletableFuture<>(),
                null, () -> destroy(keys)));
        unregister(endpoint);
        forgetIfGone(endpoint.peerId);
    }

    /**
     * Forgets {@code peer}'s tokens once no endpoint to it is left, nor one being made, whose
     * hello may have carried them (under the lock).
     */
    private void forgetIfGone(long peer) {
        for (Endpoint endpoint : byEp.values()) {
            if (endpoint.peerId == peer || endpoint.peerId == 0) {
                return;
            }
        }
        long[] gone = tokens.remove(peer);
        if (gone != null) {
            departed.remove(peer); // to the end of the order: the latest are kept
            departed.put(peer, gone[0]);
        }
    }

    /** Adds {@code endpoint} to the registry by UCX endpoint, and counts it against the limit (under the lock). */
    private void register(Endpoint endpoint) {
        byEp.put(endpoint.ep, endpoint);
        limit.held(byEp.size());
    }

    /**
     * Drops {@code endpoint} from the registry, by UCX endpoint and by peer (under the lock). If
     * another endpoint to the same peer is left, the peer's requests are answered through that
     * one from now on: with none, this node would answer none of them (its describe answers and
     * revocations go by peer) while the peer still reaches it.
     */
    private void unregister(Endpoint endpoint) {
        byEp.remove(endpoint.ep);
        if (byPeer.get(endpoint.peerId) == endpoint) {
            Endpoint other = liveTo(endpoint.peerId, false);
            if (other != null) {
                byPeer.put(endpoint.peerId, other);
            } else {
                byPeer.remove(endpoint.peerId);
            }
        }
        limit.held(byEp.size());
    }

    /**
     * A registered endpoint to {@code peer} that is neither closed nor failed, or null; with
     * {@code connecting}, one still being made to it counts too: its hello may be at the peer
     * already (under the lock).
     */
    private Endpoint liveTo(long peer, boolean connecting) {
        for (Endpoint endpoint : byEp.values()) {
            boolean to = endpoint.peerId == peer || connecting && endpoint.peerId == 0 && endpoint.connectingTo == peer;
            if (to && !endpoint.closed && endpoint.failure == null) {
                return endpoint;
            }
        }
        return null;
    }

    TransportException peerFailure(long peer) {
        return failedPeers.get(peer);
    }

    /** The endpoint to {@code peer}, or null (under the lock). */
    Endpoint byPeer(long peer) {
        return byPeer.get(peer);
    }

    /** The live endpoints (under the lock; the view, not a copy). */
    Collection<Endpoint> endpoints() {
        return byEp.values();
    }

    /** A copy of the live endpoints, for closing them one by one (under the lock). */
    List<Endpoint> snapshot() {
        return new ArrayList<>(byEp.values());
    }

    /** {@link Endpoint#close()}: says goodbye, closes it with UCX (then drops its keys), waits up to 2 s. */
    void close(Endpoint endpoint) {
        close(List.of(endpoint));
    }

    /**
     * Closes {@code endpoints} as {@link #close(Endpoint)} does, but starts every close before it
     * waits for any, and waits up to 2 s for all of them together: one at a time, a node with
     * peers that had stopped reading (puts over TCP never acknowledged) took 2 s for each.
     */
    void close(Collection<Endpoint> endpoints) {
        List<CompletableFuture<Void>> closes = new ArrayList<>(endpoints.size());
        for (Endpoint endpoint : endpoints) {
            closes.add(startClose(endpoint));
        }
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        for (CompletableFuture<Void> done : closes) {
            long left = deadline - System.nanoTime();
            if (done == null) {
                continue;
            }
            if (left <= 0) {
                return; // UCX finishes the rest in the background
            }
            try {
                ctx.engine.await(done, left, null);
            } catch (TransportException e) {
                // the peer is gone or slow: UCX finishes the close in the background
            }
        }
    }

    /** Says goodbye to and closes {@code endpoint}: its close to wait for, or null when there is none. */
    private CompletableFuture<Void> startClose(Endpoint endpoint) {
        long request;
        List<RemoteWindow> keys;
        lock.lock();
        try {
            if (endpoint.closed) {
                return null;
            }
            endpoint.closed = true;
            if (endpoint.failure != null || ctx.closed) {
                return null; // a failed endpoint was force-closed when it failed; a closed node's keys went with its worker
            }
            keys = endpoint.takeKeys();
            keys.forEach(RemoteWindow::unmap); // at once: the mappings are ours, whatever UCX's close takes (under load, seconds)
            unregister(endpoint);
            // Tell the peer, so that it waits for nothing from us (a revocation); but only from the
            // last endpoint to it, counting one being made: it serves all of ours with one endpoint
            // of its own, which fails on the goodbye, and would then neither answer the others'
            // requests nor revoke their keys. (An endpoint whose connect fails says nothing: the
            // node that would hear it is not proven to be the peer.)
            if (endpoint.peerId != 0) {
                if (liveTo(endpoint.peerId, true) == null) {
                    ctx.sendControl(endpoint, Tags.BYE, signed(endpoint.peerId));
                }
                forgetIfGone(endpoint.peerId);
            }
            request = worker.closeEndpoint(endpoint.ep, errorMode == ErrorMode.PEER);
        } finally {
            ctx.unlockAndWake();
        }
        CompletableFuture<Void> done = ctx.engine.newFuture();
        lock.lock();
        try {
            ctx.engine.add(new RmaOp(ctx, endpoint, request, "close", done, null, () -> destroy(keys)));
        } finally {
            ctx.unlockAndWake();
        }
        return done;
    }
}
