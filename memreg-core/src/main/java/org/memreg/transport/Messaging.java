package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.ucx.Ucp;
import org.memreg.util.ArenaHold;
import org.memreg.util.OpenArena;
import org.memreg.util.Warnings;

/**
 * A node's tagged messages: starting eager and rendezvous sends and receives (the operations
 * themselves are {@link SendOp}, {@link RendezvousSendOp} and {@link ReceiveOp}), the rendezvous
 * sends in progress so that a receiver's refusal or delivery reaches its sender, the pool of
 * receive-info buffers. Kept apart from the node so that the bookkeeping the send and receive
 * operations share has one owner; the operations reach the context, the chunking and the
 * connections through it.
 *
 * <p>State here is guarded by the node's lock.
 */
final class Messaging {
    final TransportContext ctx;
    final Chunking chunking;
    /** Where a refusal goes and a failed sender is known. */
    final Connections connections;
    private final ReentrantLock lock;
    /** Rendezvous sends in progress by message id, so that a receiver's refusal or delivery reaches its sender. */
    final Map<Long, RendezvousSendOp> rendezvousSends = new HashMap<>();
    private final ArrayDeque<MemorySegment> infos = new ArrayDeque<>();
    /** Rendezvous headers, reused: an arena per message (its cleaner) cost more than the send. */
    private final ArrayDeque<MemorySegment> headers = new ArrayDeque<>();

    /** Where receives' first parts land ({@link ReceiveOp}). */
    final Staging staging = new Staging();
    /** Messages whose receive's buffer was freed before they came: the caller's bug, logged at most once a second. */
    final Warnings bufferGone = new Warnings(Node.class, "memreg node dropped messages whose receive's buffer was"
            + " freed before they came (keep a buffer's arena open until its receive's future is done)");
    /** Messages that arrived before a receive asked for them, held within a limit. */
    final UnexpectedMessages unexpected;

    Messaging(TransportContext ctx, Chunking chunking, Connections connections, long maxUnexpectedBytes) {
        this.ctx = ctx;
        this.chunking = chunking;
        this.connections = connections;
        this.lock = ctx.lock;
        this.unexpected = new UnexpectedMessages(this, maxUnexpectedBytes);
    }

    /** {@link Endpoint#send}. */
    CompletableFuture<Long> send(Endpoint endpoint, long tag, MemorySegment data) {
        CompletableFuture<Long> future = ctx.engine.newFuture();
        checkNative(data);
        boolean eager = data.byteSize() <= chunking.eagerBytes();
        MemorySegment copy = null; // UCX reads a rendezvous message's chunks after the call: a copy the owner cannot free
        if (!eager && OpenArena.confined(data)) {
            copy = ctx.confinedMemory.copyIn(data, "a rendezvous send");
            data = copy.asSlice(0, data.byteSize());
        }
        // a rendezvous send's chunks go out in the call, from an arena held from now on (its thread, outside the lock)
        ArenaHold hold = eager ? ArenaHold.NONE : ArenaHold.of(data);
        if (!hold.await()) {
            hold.releaseAndWait();
            throw OpenArena.closed(data, "a send or receive");
        }
        boolean lent = eager;
        lock.lock();
        try {
            if (!endpoint.isUsable() || ctx.closed) {
                future.completeExceptionally(endpoint.unusable("send"));
                return future;
            }
            if (eager) {
                SendOp.startFromCaller(ctx, endpoint, tag, data, future);
            } else if (endpoint.heldSends > 0) {
                future.completeExceptionally(endpoint.busy("rendezvous send of " + data.byteSize() + " bytes"));
            } else {
                RendezvousSendOp op = new RendezvousSendOp(this, endpoint, tag, data, hold, future);
                lent = true;
                if (!op.poll(ctx)) {
                    ctx.engine.add(op);
                }
            }
        } finally {
            ctx.unlockAndWake();
            if (!lent) {
                hold.releaseAndWait(); // the caller may close the arena once this returns
            }
        }
        if (copy != null) {
            MemorySegment done = copy;
            future.whenComplete((bytes, failure) -> ctx.confinedMemory.give(done)); // UCX let go of it by then
        }
        return future;
    }

    /**
     * {@link Endpoint#sendCopy}: an eager send without a future when UCX takes the data at once
     * (the common case); else {@link #send}, which sends from a copy of the node's, and this waits
     * for UCX to take that, except inside the node's progress (a completion stage), where nothing
     * of the node finishes before the stage returns.
     */
    void sendCopy(Endpoint endpoint, long tag, MemorySegment data) {
        checkNative(data);
        if (data.byteSize() > chunking.eagerBytes()) {
            throw new IllegalArgumentException("sendCopy takes at most the eager size, " + chunking.eagerBytes()
                    + " bytes, not " + data.byteSize());
        }
        lock.lock();
        try {
            if (!endpoint.isUsable() || ctx.closed) {
                throw endpoint.unusable("send");
            }
            int status = Ucp.status(SendOp.sendAtOnce(ctx, endpoint, tag, data));
            if (status == Ucp.OK) {
                return;
            }
            if (status != Ucp.ERR_NO_RESOURCE) {
                throw endpoint.failure("send of " + data.byteSize() + " bytes", status);
            }
        } finally {
            lock.unlock();
        }
        CompletableFuture<Long> sent = send(endpoint, tag, data);
        if (!ctx.engine.insideProgress()) {
            ctx.engine.await(sent, ctx.timeoutNanos, endpoint);
        } else if (sent.isCompletedExceptionally() && sent.exceptionNow() instanceof TransportException e) {
            throw e; // unusable endpoint, closed node, held sends: as sendCopy reports them
        }
    }

    /** The node's {@code receive}. */
    CompletableFuture<Long> receive(long tag, MemorySegment buffer) {
        Tags.checkUserTag(tag);
        checkNative(buffer);
        checkWritable(buffer, "a receive");
        CompletableFuture<Long> future = ctx.engine.newFuture();
        lock.lock();
        try {
            if (ctx.closed) {
                future.completeExceptionally(new TransportException("node is closed", Ucp.ERR_CANCELED));
                return future;
            }
            ReceiveOp op = new ReceiveOp(this, tag, buffer, future);
            if (!op.finishedAtOnce(ctx)) {
                ctx.engine.add(op);
            }
        } finally {
            ctx.unlockAndWake();
        }
        return future;
    }

    private static void checkNative(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("only native (off-heap) segments can be sent or received");
        }
        OpenArena.require(segment, "a send or receive");
        OpenArena.requireAccessible(segment, "a send or receive");
    }

    /**
     * UCX writes through the address, past Java's read-only view: into memory mapped read-only
     * that was a SIGSEGV in UCX's copy, and the JVM died.
     */
    static void checkWritable(MemorySegment segment, String what) {
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException(what + " writes into its segment, which is read-only: " + segment);
        }
    }

    long nextMessageId() {
        return TransportContext.RANDOM.nextLong() & Tags.ID_MASK;
    }

    MemorySegment takeInfo() {
        MemorySegment info = infos.poll();
        return info != null ? info : ctx.arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    }

    void giveInfo(MemorySegment info) {
        infos.push(info);
    }

    MemorySegment takeHeader() {
        MemorySegment header = headers.poll();
        return header != null ? header : ctx.arena.allocate(RendezvousSendOp.HEADER_BYTES, 8);
    }

    void giveHeader(MemorySegment header) {
        headers.push(header);
    }

    /** Control handler (under the lock, inside progress): a receiver refused one of our rendezvous sends. */
    void onRefuse(long tag, MemorySegment payload) {
        requireLength(payload, 16, "a refusal");
        RendezvousSendOp op = rendezvousSends.get(payload.get(JAVA_LONG, 0));
        if (op != null) {
            op.refused(payload.get(JAVA_LONG, 8));
        }
    }

    /** Control handler (under the lock, inside progress): a receiver has one of our rendezvous messages whole. */
    void onDelivered(long tag, MemorySegment payload) {
        requireLength(payload, 8, "a delivery");
        RendezvousSendOp op = rendezvousSends.get(payload.get(JAVA_LONG, 0));
        if (op != null) {
            op.delivered();
        }
    }

    /** A receiver's word is {@code bytes} long ({@link #tellSender}); another is dropped, named in the node's warning. */
    private static void requireLength(MemorySegment payload, long bytes, String what) {
        if (payload.byteSize() != bytes) {
            throw new IllegalArgumentException(what + " of " + payload.byteSize() + " bytes, not " + bytes);
        }
    }

    /** Tells the sender of a rendezvous message that it arrived whole (under the lock): its send completes on it. */
    void delivered(long sender, long messageId) {
        tellSender(sender, Tags.DELIVERED, messageId);
    }

    /** Tells the sender of a rendezvous message that the receive buffer is too small (under the lock). */
    void refuse(long sender, long messageId, long bufferBytes) {
        tellSender(sender, Tags.REFUSE, messageId, bufferBytes);
    }

    /**
     * Sends a rendezvous message's sender a control message of {@code words} (under the lock),
     * from a buffer of the header pool (an arena per message cost more); nothing if the sender is
     * not connected, whose send then fails with its connection or at its timeout.
     */
    private void tellSender(long sender, long tag, long... words) {
        Endpoint endpoint = connections.byPeer(sender);
        if (endpoint == null || !endpoint.isUsable()) {
            return;
        }
        MemorySegment message = takeHeader();
        for (int i = 0; i < words.length; i++) {
            message.set(JAVA_LONG, 8L * i, words[i]);
        }
        CompletableFuture<Long> sent = new CompletableFuture<>();
        SendOp.start(ctx, endpoint, tag, message.asSlice(0, 8L * words.length), sent);
        sent.whenComplete((bytes, failure) -> giveHeader(message)); // at once, or when UCX lets go of it
    }
}
