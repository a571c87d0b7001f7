package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.ucx.Ucp;

/**
 * A node's tagged messages: starting eager and rendezvous sends and receives (the operations
 * themselves are {@link SendOp}, {@link RendezvousSendOp} and {@link ReceiveOp}), the rendezvous
 * sends in progress so that a receiver's refusal reaches its sender, the pool of receive-info
 * buffers, and the small control messages the other parts of the node send. Kept apart from
 * {@link Node} so that the bookkeeping the send and receive operations share has one owner.
 *
 * <p>State here is guarded by the node's lock.
 */
final class Messaging {
    private final Node node;
    private final ReentrantLock lock;
    /** Rendezvous sends in progress by message id, so that a receiver's refusal reaches its sender. */
    final Map<Long, RendezvousSendOp> rendezvousSends = new HashMap<>();
    private final ArrayDeque<MemorySegment> infos = new ArrayDeque<>();
    /** Rendezvous headers, reused: an arena per message (its cleaner) cost more than the send. */
    private final ArrayDeque<MemorySegment> headers = new ArrayDeque<>();

    Messaging(Node node) {
        this.node = node;
        this.lock = node.lock;
    }

    /** {@link Endpoint#send}. */
    CompletableFuture<Long> send(Endpoint endpoint, long tag, MemorySegment data) {
        CompletableFuture<Long> future = node.engine.newFuture();
        checkNative(data);
        lock.lock();
        try {
            if (!endpoint.isUsable() || node.closed) {
                future.completeExceptionally(endpoint.unusable("send"));
                return future;
            }
            if (data.byteSize() <= node.eagerBytes) {
                SendOp.start(node, endpoint, tag, data, future);
            } else {
                RendezvousSendOp op = new RendezvousSendOp(node, endpoint, tag, data, future);
                if (!op.poll(node)) {
                    node.engine.add(op);
                }
            }
        } finally {
            node.unlockAndWake();
        }
        return future;
    }

    /** {@link Node#receive}. */
    CompletableFuture<Long> receive(long tag, MemorySegment buffer) {
        Tags.checkUserTag(tag);
        checkNative(buffer);
        CompletableFuture<Long> future = node.engine.newFuture();
        lock.lock();
        try {
            if (node.closed) {
                future.completeExceptionally(new TransportException("node is closed", Ucp.ERR_CANCELED));
                return future;
            }
            ReceiveOp op = new ReceiveOp(node, tag, buffer, future);
            if (!op.finishedAtOnce(node)) {
                node.engine.add(op);
            }
        } finally {
            node.unlockAndWake();
        }
        return future;
    }

    private static void checkNative(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("only native (off-heap) segments can be sent or received");
        }
    }

    long nextMessageId() {
        return Node.RANDOM.nextLong() & Tags.ID_MASK;
    }

    MemorySegment takeInfo() {
        MemorySegment info = infos.poll();
        return info != null ? info : node.arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    }

    void giveInfo(MemorySegment info) {
        infos.push(info);
    }

    MemorySegment takeHeader() {
        MemorySegment header = headers.poll();
        return header != null ? header : node.arena.allocate(RendezvousSendOp.HEADER_BYTES, 8);
    }

    void giveHeader(MemorySegment header) {
        headers.push(header);
    }

    /** Control handler (under the lock, inside progress): a receiver refused one of our rendezvous sends. */
    void onRefuse(long tag, MemorySegment payload) {
        RendezvousSendOp op = rendezvousSends.get(payload.get(JAVA_LONG, 0));
        if (op != null) {
            op.refused(payload.get(JAVA_LONG, 8));
        }
    }

    /** Tells the sender of a rendezvous message that the receive buffer is too small (under the lock). */
    void refuse(long sender, long messageId, long bufferBytes) {
        Endpoint endpoint = node.connections.byPeer(sender);
        if (endpoint == null || !endpoint.isUsable()) {
            return;
        }
        MemorySegment message = Arena.ofAuto().allocate(16, 8);
        message.set(JAVA_LONG, 0, messageId);
        message.set(JAVA_LONG, 8, bufferBytes);
        sendControl(endpoint, Tags.REFUSE, message);
    }

    /** Sends a control message (under the lock); nobody waits for it. */
    void sendControl(Endpoint endpoint, long tag, MemorySegment payload) {
        SendOp.start(node, endpoint, tag, payload, new CompletableFuture<>());
    }
}
