package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import org.memreg.device.Access;
import org.memreg.ucx.Ucp;

/**
 * A tagged receive into the user's buffer. It first matches the next message under the user tag
 * from any peer: eager data lands in the buffer and the receive is done; a rendezvous header
 * (which also lands at the buffer's start, to be overwritten) gives length, message id and
 * sender, and the receive goes on to post chunk receives into registered chunks of the buffer,
 * at most {@code pipelineDepth} at a time.
 *
 * <p>A rendezvous message larger than the buffer fails the receive at once and is refused: the
 * sender is told (its send fails at once too) and the receive drains the message's chunks with
 * empty receives, so that nothing of it is left in UCX.
 *
 * <p>Matching waits without a time limit (cancel the future to give up); once a rendezvous has
 * started, the node's timeout applies and a failed sender fails the receive.
 */
final class ReceiveOp extends Op {
    private final CompletableFuture<Long> future;
    private final MemorySegment buffer;
    private final MemorySegment info;
    private final ArrayDeque<Chunk> inFlight = new ArrayDeque<>();
    private long request;
    private boolean matched;
    private long total;
    private long chunkTag;
    private long sender;
    private long nextOffset;
    private long doneBytes;
    private long chunkDeadline;
    private boolean failed;
    private boolean draining;

    ReceiveOp(Node node, long tag, MemorySegment buffer, CompletableFuture<Long> future) {
        super(node.timeoutNanos);
        this.future = future;
        this.buffer = buffer;
        this.info = node.messaging.takeInfo();
        this.request = node.worker.tagReceive(buffer.address(), buffer.byteSize(), tag, Tags.USER_RECEIVE_MASK,
                0, info.address());
    }

    /** True when the receive matched at once and finished (eager data waiting in UCX). */
    boolean finishedAtOnce(Node node) {
        if (Ucp.status(request) == Ucp.INPROGRESS) {
            return false;
        }
        return matched(node, Ucp.status(request));
    }

    @Override
    boolean poll(Node node) {
        if (!matched) {
            int status = Ucp.isRequest(request) ? node.worker.testReceive(request, info.address()) : Ucp.status(request);
            if (status == Ucp.INPROGRESS) {
                if (future.isCancelled()) {
                    node.worker.cancel(request); // completes with ERR_CANCELED on a later poll
                }
                return false;
            }
            if (Ucp.isRequest(request)) {
                Ucp.requestFree(request);
            }
            request = 0;
            return matched(node, status);
        }
        return pollChunks(node);
    }

    private boolean matched(Node node, int status) {
        matched = true;
        if (status != Ucp.OK) {
            node.messaging.giveInfo(info);
            future.completeExceptionally(status == Ucp.ERR_MESSAGE_TRUNCATED
                    ? new TransportException("message larger than the " + buffer.byteSize() + "-byte buffer", status)
                    : new TransportException("receive failed: " + Ucp.statusString(status), status));
            return true;
        }
        long senderTag = info.get(JAVA_LONG, 0);
        long length = info.get(JAVA_LONG, 8);
        if ((senderTag & Tags.RTS_BIT) == 0) {
            node.messaging.giveInfo(info);
            future.complete(length);
            return true;
        }
        // The user's segment may be confined to the thread that called receive; this may be the
        // progress thread, so the header is read through a view of the address alone.
        MemorySegment header = headerView(buffer.address());
        total = header.get(JAVA_LONG, 0);
        chunkTag = Tags.CHUNK | (header.get(JAVA_LONG, 8) & Tags.ID_MASK);
        sender = header.get(JAVA_LONG, 16);
        chunkDeadline = node.engine.now() + node.timeoutNanos;
        if (total > buffer.byteSize()) {
            fail(new TransportException(String.format(
                    "message of %d bytes from node %016x does not fit the %d-byte buffer", total, sender,
                    buffer.byteSize()), Ucp.ERR_MESSAGE_TRUNCATED));
            node.messaging.refuse(sender, chunkTag & Tags.ID_MASK, buffer.byteSize());
            draining = true;
        }
        return pollChunks(node);
    }

    @SuppressWarnings("restricted") // the user's buffer holds at least the header (UCX checked the length)
    private static MemorySegment headerView(long address) {
        return MemorySegment.ofAddress(address).reinterpret(RendezvousSendOp.HEADER_BYTES);
    }

    private boolean pollChunks(Node node) {
        long now = node.engine.now();
        while (!inFlight.isEmpty()) {
            Chunk chunk = inFlight.peekFirst();
            int status = check(chunk.request);
            if (status == Ucp.INPROGRESS) {
                break;
            }
            inFlight.removeFirst();
            chunk.release();
            if (draining) {
                continue; // empty or truncated: either way that chunk is gone
            }
            if (status != Ucp.OK) {
                fail(new TransportException("rendezvous chunk from node " + Long.toHexString(sender) + " failed: "
                        + Ucp.statusString(status), status));
            } else {
                doneBytes += chunk.length;
            }
        }
        if (!failed) {
            TransportException peerFailure = node.connections.peerFailure(sender);
            if (peerFailure != null) {
                fail(peerFailure);
            } else if (now - chunkDeadline > 0) {
                fail(node.timedOut(String.format("receive of %d bytes from node %016x (%d bytes done)", total,
                        sender, doneBytes)));
            }
        }
        if (draining && (node.connections.peerFailure(sender) != null || now - chunkDeadline > 0)) {
            draining = false; // the sender is gone or stuck: give up on the rest
        }
        if (failed && !draining) {
            cancelAll(node);
        }
        while (draining && inFlight.size() < node.pipelineDepth && nextOffset < total) {
            Chunk empty = Chunk.empty();
            empty.request = node.worker.tagReceive(info.address(), 0, chunkTag, Tags.EXACT, 0, info.address());
            nextOffset += Math.min(node.chunkBytes, total - nextOffset);
            inFlight.addLast(empty);
        }
        while (!failed && inFlight.size() < node.pipelineDepth && nextOffset < total) {
            long length = Math.min(node.chunkBytes, total - nextOffset);
            Chunk chunk;
            try {
                chunk = Chunk.register(node, buffer.address() + nextOffset, length, Access.LOCAL_WRITE);
            } catch (RuntimeException e) {
                fail(new TransportException("cannot register chunk at offset " + nextOffset + " of a "
                        + total + "-byte receive", e));
                break;
            }
            chunk.request = node.worker.tagReceive(chunk.address, length, chunkTag, Tags.EXACT, chunk.memh,
                    info.address());
            nextOffset += length;
            inFlight.addLast(chunk);
        }
        if (inFlight.isEmpty() && (failed && !draining || nextOffset >= total)) {
            node.messaging.giveInfo(info);
            if (!failed) {
                future.complete(total);
            }
            return true;
        }
        return false;
    }

    private void fail(TransportException e) {
        if (!failed) {
            failed = true;
            future.completeExceptionally(e);
        }
    }

    /** Cancels what UCX lets us cancel (receives can be); the op finishes on a later poll. */
    void cancelAll(Node node) {
        if (!matched && Ucp.isRequest(request)) {
            node.worker.cancel(request);
        }
        for (Chunk chunk : inFlight) {
            if (Ucp.isRequest(chunk.request)) {
                node.worker.cancel(chunk.request);
            }
        }
    }

    @Override
    void abort(Node node, TransportException cause) {
        draining = false;
        fail(cause);
        future.completeExceptionally(cause);
        cancelAll(node);
    }
}
