package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxWorker;

/**
 * A node's connections: connecting (hello, reply, ack), accepting from the listener, the endpoint
 * registry by UCX endpoint and by peer id, failed peers, and closing endpoints. Kept apart from
 * {@link Node} so that the handshake's two sides and the registry they fill read together.
 *
 * <p>The registry is guarded by the node's lock; the control handlers and {@link
 * #acceptConnections()} and {@link #endpointErrors()} run under it, inside progress.
 */
final class Connections {
    private final Node node;
    private final UcxWorker worker;
    private final ReentrantLock lock;
    private final Map<Long, Endpoint> byEp = new HashMap<>();
    private final Map<Long, Endpoint> byPeer = new HashMap<>();
    private final ArrayDeque<Endpoint> accepted = new ArrayDeque<>();
    private final Map<Long, TransportException> failedPeers = new HashMap<>();

    Connections(Node node) {
        this.node = node;
        this.worker = node.worker;
        this.lock = node.lock;
    }

    /** {@link Node#accepted()}. */
    Endpoint accepted() {
        lock.lock();
        try {
            return accepted.poll();
        } finally {
            node.unlockAndWake();
        }
    }

    /** {@link Node#connect(String, int)}. */
    Endpoint connect(String host, int port) {
        InetSocketAddress address;
        try {
            address = new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new TransportException("unknown host " + host, e);
        }
        return handshake(host + ":" + port, () -> worker.connect(address, ucxErrorMode()), null);
    }

    /** {@link Node#connect(byte[])}. */
    Endpoint connect(byte[] workerAddress) {
        byte[] copy = workerAddress.clone();
        return handshake("worker address", () -> worker.connect(copy, ucxErrorMode()), worker.address());
    }

    private interface EpFactory {
        long create();
    }

    private Endpoint handshake(String description, EpFactory factory, byte[] ourAddress) {
        long nonce = Node.RANDOM.nextLong() & Tags.LOW48;
        CompletableFuture<Long> reply = new CompletableFuture<>();
        Endpoint endpoint;
        lock.lock();
        try {
            node.checkOpen();
            long ep;
            try {
                ep = factory.create();
            } catch (RuntimeException e) {
                throw new TransportException("cannot connect to " + description + ": " + e.getMessage(), e);
            }
            endpoint = new Endpoint(node, ep, 0, description);
            byEp.put(ep, endpoint);
            node.engine.add(new ControlReceive(node, Tags.REPLY | nonce, Tags.EXACT, false,
                    (tag, payload) -> reply.complete(payload.get(JAVA_LONG, 0))));
            byte[] address = ourAddress == null ? new byte[0] : ourAddress;
            MemorySegment hello = Arena.ofAuto().allocate(20 + address.length, 8);
            hello.set(JAVA_LONG, 0, node.id());
            hello.set(JAVA_LONG, 8, nonce);
            hello.set(JAVA_INT, 16, address.length);
            hello.asSlice(20).copyFrom(MemorySegment.ofArray(address));
            node.messaging.sendControl(endpoint, Tags.HELLO, hello);
        } finally {
            node.unlockAndWake();
        }
        long peer;
        try {
            peer = node.engine.await(reply, node.connectTimeoutNanos, endpoint);
        } catch (TransportException e) {
            close(endpoint);
            throw new TransportException("no memreg node answered at " + description + " within "
                    + TimeUnit.NANOSECONDS.toMillis(node.connectTimeoutNanos) + " ms (unknown peer?): "
                    + e.getMessage(), e.status());
        }
        lock.lock();
        try {
            endpoint.peerId = peer;
            byPeer.put(peer, endpoint);
            MemorySegment ack = Arena.ofAuto().allocate(8, 8);
            ack.set(JAVA_LONG, 0, node.id());
            node.messaging.sendControl(endpoint, Tags.ACK, ack);
            endpoint.ready = true;
        } finally {
            node.unlockAndWake();
        }
        return endpoint;
    }

    private int ucxErrorMode() {
        return node.errorMode == ErrorMode.PEER ? Ucp.ERR_HANDLING_MODE_PEER : Ucp.ERR_HANDLING_MODE_NONE;
    }

    // Control handlers run under the lock, inside progress.

    void onHello(long tag, MemorySegment payload) {
        long peer = payload.get(JAVA_LONG, 0);
        long nonce = payload.get(JAVA_LONG, 8) & Tags.LOW48;
        int addressLength = payload.get(JAVA_INT, 16);
        Endpoint endpoint = byPeer.get(peer);
        if (endpoint == null && addressLength > 0) {
            byte[] address = payload.asSlice(20, addressLength).toArray(JAVA_BYTE);
            try {
                long ep = worker.connect(address, ucxErrorMode());
                endpoint = new Endpoint(node, ep, peer, "worker address of " + Long.toHexString(peer));
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
        reply.set(JAVA_LONG, 0, node.id());
        node.messaging.sendControl(endpoint, Tags.REPLY | nonce, reply);
    }

    void onAck(long tag, MemorySegment payload) {
        Endpoint endpoint = byPeer.get(payload.get(JAVA_LONG, 0));
        if (endpoint != null) {
            endpoint.ready = true;
        }
    }

    void acceptConnections() {
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
            Endpoint endpoint = new Endpoint(node, ep, peer, "accepted from " + Long.toHexString(peer));
            byEp.put(ep, endpoint);
            byPeer.put(peer, endpoint);
            accepted.add(endpoint);
        }
    }

    void endpointErrors() {
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
            node.engine.add(new RmaOp(node, endpoint, request, "close of a failed endpoint", new CompletableFuture<>(),
                    null, null));
            byEp.remove(endpoint.ep);
            if (byPeer.get(endpoint.peerId) == endpoint) {
                byPeer.remove(endpoint.peerId);
            }
        }
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

    /** {@link Endpoint#close()}: drops its keys, closes it with UCX, waits up to 2 s. */
    void close(Endpoint endpoint) {
        long request;
        lock.lock();
        try {
            if (endpoint.closed) {
                return;
            }
            endpoint.closed = true;
            node.windows.dropKeys(endpoint);
            if (endpoint.failure != null || node.closed) {
                return; // a failed endpoint was force-closed when it failed
            }
            byEp.remove(endpoint.ep);
            if (byPeer.get(endpoint.peerId) == endpoint) {
                byPeer.remove(endpoint.peerId);
            }
            request = worker.closeEndpoint(endpoint.ep, node.errorMode == ErrorMode.PEER);
        } finally {
            node.unlockAndWake();
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        lock.lock();
        try {
            node.engine.add(new RmaOp(node, endpoint, request, "close", done, null, null));
        } finally {
            node.unlockAndWake();
        }
        try {
            node.engine.await(done, TimeUnit.SECONDS.toNanos(2), null);
        } catch (TransportException e) {
            // the peer is gone or slow: UCX finishes the close in the background
        }
    }
}
