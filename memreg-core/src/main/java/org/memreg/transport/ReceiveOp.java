package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.device.Access;
import org.memreg.ucx.Ucp;
import org.memreg.util.ArenaHold;
import org.memreg.util.OpenArena;

/**
 * A tagged receive into the user's buffer. It first matches the next message under the user tag
 * from any peer, the oldest the node holds for it ({@link UnexpectedMessages}) or else in UCX,
 * into memory of the node's own ({@link Staging}, the buffer's size up to {@link
 * NodeBuilder#MAX_EAGER_BYTES}): eager data is then copied into the buffer, if it is still there,
 * and the receive is done; a rendezvous header gives length, message id, sender and the sender's
 * chunk size, and the receive goes on to post chunk receives of that size into registered chunks
 * of the buffer (of the node's memory for a confined buffer, copied in at the end: {@link
 * ConfinedMemory}), at most {@code pipelineDepth} at a time. Chunks the node took
 * off UCX before (they came early, {@link EarlyChunks}) are taken first, in order, in place of a
 * posted receive. A chunk that arrives shorter than expected fails the receive: the chunks after
 * it would land at the wrong offsets.
 *
 * <p>Once the whole of a rendezvous message is in the buffer, the sender is told ({@link
 * Tags#DELIVERED}): its send completes on that. A rendezvous message larger than the buffer fails
 * the receive at once and is refused: the sender is told (its send fails at once too) and the
 * receive drains the message's chunks with empty receives, so that nothing of it is left in UCX.
 *
 * <p>Matching waits without a time limit (cancel the future to give up, {@link #withdraw}); once
 * a rendezvous has started, the node's timeout applies and a failed sender fails the receive. The
 * future of a failed receive completes once UCX holds no part of the buffer: a chunk in flight
 * that UCX cannot cancel is waited for (reported past the timeout), at the latest until the node
 * has closed ({@link #closed}).
 */
final class ReceiveOp extends Op implements TransportFuture.Lender {
    /** The smallest chunk a sender may announce: a page. */
    private static final long MIN_CHUNK_BYTES = 4096;
    /** A refusal's buffer size when the receiver refuses for holding too much ({@link RendezvousSendOp#refused}). */
    static final long REFUSED_AS_HELD_TOO_MUCH = -1;
    /** A refusal's buffer size when the receive's buffer was freed (its arena closed) before the message came. */
    static final long REFUSED_AS_BUFFER_GONE = -2;
    /** Where the message's first part lands ({@link Staging}) until it has; then null, given back. */
    private MemorySegment staging;
    /** The most the first part may hold: the buffer's size, at most {@link Staging#MAX_BYTES}. */
    private final long landing;
    private final Messaging messaging;
    private final CompletableFuture<Long> future;
    private final MemorySegment buffer;
    private final MemorySegment info;
    private long request;
    private boolean matched;
    private long chunkTag;
    private long sender;
    /** What arrived of a chunk that was not as long as expected, for the receive's error. */
    private String shortChunk;
    /** The rendezvous message's chunks, once its header matched. */
    private ChunkPipeline chunks;
    /** Holds the buffer's arena once a rendezvous message's chunks are to go into it ({@link ArenaHold}). */
    private ArenaHold hold = ArenaHold.NONE;
    /** The message's chunks the node took off UCX before this receive posted for them. */
    private EarlyChunks.Claim early;
    private long chunkDeadline;
    /** Why it failed, null while it has not: the future fails with it when UCX holds no part of the buffer. */
    private TransportException failure;
    private boolean draining;
    /** A message the node held for this receive ({@link UnexpectedMessages}), or null: it receives from UCX. */
    private final HeldMessage held;
    /** What a refusal says the buffer holds: its size, or {@link #REFUSED_AS_HELD_TOO_MUCH}. */
    private final long refuseAs;
    private Runnable whenDone;
    /** True once the receive is over outside a poll: withdrawn by a cancel, or finished by one. */
    private boolean over;
    /**
     * Where a rendezvous message's chunks go: the buffer, or for a confined arena's buffer memory of
     * the node's, copied into the buffer at the end ({@link ConfinedMemory}).
     */
    private MemorySegment target;

    ReceiveOp(Messaging messaging, long tag, MemorySegment buffer, CompletableFuture<Long> future) {
        this(messaging, messaging.unexpected.take(tag), tag, buffer, future, buffer.byteSize());
    }

    /**
     * The receive of a rendezvous message the node would not hold ({@link UnexpectedMessages}):
     * refused to its sender as beyond the limit, its chunks drained; {@code done} runs at the end.
     */
    static ReceiveOp refusing(Messaging messaging, HeldMessage header, Runnable done) {
        MemorySegment buffer = Arena.ofAuto().allocate(RendezvousSendOp.HEADER_BYTES, 8);
        ReceiveOp op = new ReceiveOp(messaging, header, 0, buffer, new CompletableFuture<>(), REFUSED_AS_HELD_TOO_MUCH);
        op.whenDone = done;
        return op;
    }

    private ReceiveOp(Messaging messaging, HeldMessage held, long tag, MemorySegment buffer,
            CompletableFuture<Long> future, long refuseAs) {
        super(messaging.ctx.timeoutNanos);
        this.messaging = messaging;
        this.future = future;
        this.buffer = buffer;
        this.refuseAs = refuseAs;
        this.info = messaging.takeInfo();
        this.held = held;
        this.landing = Math.min(buffer.byteSize(), Staging.MAX_BYTES);
        this.staging = messaging.staging.take(landing);
        this.request = held != null ? 0 : messaging.ctx.worker.tagReceive(staging.address(), landing, tag,
                Tags.USER_RECEIVE_MASK, 0, info.address());
        TransportFuture.lend(future, staging, "a receive", this); // the buffer is lent once chunks go into it
    }

    /**
     * {@link TransportFuture#cancel}: takes the buffer back if no message matched yet. UCX
     * completes a cancelled unmatched receive inside the call; one that matched meanwhile finishes
     * here (its data is in the buffer) and is not cancelled.
     */
    @Override
    public boolean withdraw() {
        TransportContext ctx = messaging.ctx;
        ctx.lock.lock();
        try {
            if (over || matched || future.isDone()) {
                return future.isCancelled();
            }
            if (held != null && held.arrived()) { // the message is whole: received, not lost to the cancel
                over = matched(ctx, held.deliver(staging, landing, info));
                return false;
            }
            if (held == null && takeBack(ctx) != Ucp.ERR_CANCELED) {
                return false; // UCX is receiving the message, or it has
            }
            over = true;
            giveBack();
            return ((TransportFuture<?>) future).settleCancelled();
        } finally {
            ctx.unlockAndWake();
        }
    }

    /**
     * Cancels the UCX receive of a message not matched yet (under the lock): {@link
     * Ucp#ERR_CANCELED} when UCX gave the staging back, {@link Ucp#INPROGRESS} when it is receiving
     * into it; else a message matched meanwhile and the receive finished here with that status.
     */
    private int takeBack(TransportContext ctx) {
        ctx.worker.cancel(request);
        int status = checkReceive(ctx, request, info.address());
        if (status != Ucp.INPROGRESS) {
            request = 0;
            if (status != Ucp.ERR_CANCELED) {
                over = matched(ctx, status);
            }
        }
        return status;
    }

    /** True when the receive matched at once and finished (eager data waiting in UCX). */
    boolean finishedAtOnce(TransportContext ctx) {
        if (held != null) {
            return advance(ctx);
        }
        if (Ucp.status(request) == Ucp.INPROGRESS) {
            return false;
        }
        return matched(ctx, Ucp.status(request));
    }

    @Override
    boolean poll(TransportContext ctx) {
        boolean done = over || advance(ctx);
        if (done && whenDone != null) {
            whenDone.run();
            whenDone = null;
        }
        return done;
    }

    private boolean advance(TransportContext ctx) {
        if (!matched && held != null) { // a cancel while its parts arrive gives it up (withdraw)
            if (failed()) { // the node is closing: UCX never had the staging
                giveBack();
                return true;
            }
            if (held.arrived()) {
                return matched(ctx, held.deliver(staging, landing, info));
            }
            return false;
        }
        if (!matched) {
            int status = checkReceive(ctx, request, info.address());
            if (status == Ucp.INPROGRESS) {
                return false;
            }
            request = 0;
            return matched(ctx, status);
        }
        return pollChunks(ctx);
    }

    /** The message's first part landed (or failed to) and UCX holds the staging no more: the staging goes back. */
    private boolean matched(TransportContext ctx, int status) {
        matched = true;
        MemorySegment landed = staging;
        staging = null;
        try {
            return landed(ctx, status, landed);
        } finally {
            messaging.staging.give(landed);
        }
    }

    private boolean landed(TransportContext ctx, int status, MemorySegment landed) {
        if (failed()) { // the node closed while it matched: what arrived is not read
            messaging.giveInfo(info);
            TransportFuture.settleExceptionally(future, failure);
            return true;
        }
        if (status != Ucp.OK) {
            messaging.giveInfo(info);
            TransportFuture.settleExceptionally(future, status != Ucp.ERR_MESSAGE_TRUNCATED
                    ? new TransportException("receive failed: " + Ucp.statusString(status), status)
                    : landing == buffer.byteSize()
                    ? new TransportException("message larger than the " + buffer.byteSize() + "-byte buffer", status)
                    : new TransportException("an eager message larger than " + landing + " bytes, which no memreg"
                            + " sender sends (NodeBuilder.MAX_EAGER_BYTES)", status));
            return true;
        }
        long senderTag = info.get(JAVA_LONG, 0);
        long length = info.get(JAVA_LONG, 8);
        if ((senderTag & Tags.RTS_BIT) == 0) {
            messaging.giveInfo(info);
            TransportFuture.settleCopied(ctx.engine, future, landed, buffer, length, length, () -> {
                messaging.bufferGone.warn(() -> String.format("a %d-byte message under tag %x", length,
                        senderTag & Tags.USER_RECEIVE_MASK));
                return gone(length);
            });
            return true;
        }
        if (length != RendezvousSendOp.HEADER_BYTES) { // forged: only what arrived may be read, a header is 32 bytes
            return malformed(length + " bytes, not " + RendezvousSendOp.HEADER_BYTES);
        }
        long total = landed.get(JAVA_LONG, 0); // a rendezvous header: length, message id, sender, chunk size
        chunkTag = Tags.CHUNK | (landed.get(JAVA_LONG, 8) & Tags.ID_MASK);
        sender = landed.get(JAVA_LONG, 16);
        long chunkBytes = landed.get(JAVA_LONG, 24);
        if (total <= 0) { // no memreg sender sends that: a forged or damaged header, and no chunk follows it
            return malformed(String.format("from node %016x, length %d", sender, total));
        }
        if (chunkBytes < MIN_CHUNK_BYTES) { // a sender's chunks are whole pages
            return malformed(String.format("from node %016x, chunk size %d", sender, chunkBytes));
        }
        chunkDeadline = ctx.engine.now() + ctx.timeoutNanos;
        boolean gone = !buffer.scope().isAlive(); // the caller broke the contract: no chunk goes into freed memory
        boolean fits = total <= buffer.byteSize();
        boolean confined = OpenArena.confined(buffer); // looked at here, off the eager messages' path
        hold = gone || !fits || confined ? ArenaHold.NONE : ArenaHold.of(buffer, ctx::wakeUnderLock);
        target = confined && !gone && fits ? messaging.ctx.confinedMemory.take(total) : buffer;
        // refused before a chunk is let go of: its completion would end the send well
        if (gone) {
            refuseAsGone(total);
        } else {
            TransportFuture.lend(future, target, "a receive", this, hold); // the chunks go into the target
        }
        if (!gone && !fits) {
            fail(new TransportException(String.format("message of %d bytes from node %016x does not fit the %d-byte"
                    + " buffer", total, sender, buffer.byteSize()), Ucp.ERR_MESSAGE_TRUNCATED));
            messaging.refuse(sender, chunkTag & Tags.ID_MASK, refuseAs);
            draining = true;
        }
        early = messaging.unexpected.chunks.claim(chunkTag & Tags.ID_MASK,
                Math.ceilDiv(total, chunkBytes), draining);
        chunks = new ChunkPipeline(messaging.chunking, chunkBytes, target, hold, total, Access.LOCAL_WRITE,
                (chunk, bytes, memh) -> postChunk(ctx, bytes == 0 ? info.address() : chunk, bytes, memh),
                chunk -> finishChunk(ctx, chunk), () -> "receive");
        return pollChunks(ctx);
    }

    /** A receive's failure: a message of {@code length} bytes came, and its buffer was gone. */
    private TransportException gone(long length) {
        return new TransportException(String.format("a message of %d bytes came, and the receive's buffer was gone"
                + " (its arena closed): dropped", length), OpenArena.closed(buffer, "a receive"));
    }

    /** The buffer went (its arena closed) before any chunk of the {@code total}-byte message: refused, drained. */
    private void refuseAsGone(long total) {
        messaging.bufferGone.warn(() -> String.format("a %d-byte message from node %016x, refused", total, sender));
        fail(new TransportException("the receive's buffer is gone", OpenArena.closed(buffer, "a receive")));
        messaging.refuse(sender, chunkTag & Tags.ID_MASK, REFUSED_AS_BUFFER_GONE);
        draining = true;
    }

    /** A rendezvous header no memreg sender sends: the receive fails, and nothing else of it follows. */
    private boolean malformed(String what) {
        messaging.giveInfo(info);
        TransportFuture.settleExceptionally(future, new TransportException("malformed rendezvous header: " + what,
                Ucp.ERR_INVALID_PARAM));
        return true;
    }

    /**
     * Receives the next chunk: the oldest the node took off UCX for this message, else a tagged
     * receive for UCX to match. A taken chunk of another length than expected fails the receive.
     */
    private long postChunk(TransportContext ctx, long address, long bytes, long memh) {
        EarlyChunks.Taken taken = early.next();
        if (taken == null) {
            return ctx.worker.tagReceive(address, bytes, chunkTag, Tags.EXACT, memh, info.address());
        }
        if (taken == EarlyChunks.DRAINED) {
            return Ucp.OK; // let go of when it came
        }
        if (bytes != 0 && taken.length() != bytes) {
            shortChunk = String.format("a chunk of %d bytes where %d were expected", taken.length(), bytes);
            messaging.unexpected.discard(taken.message());
            return Ucp.ERR_MESSAGE_TRUNCATED;
        }
        return ctx.worker.receiveTaken(taken.message(), address, bytes, false, memh);
    }

    /** A chunk's receive: its status, and a chunk shorter than posted is an error. */
    private int finishChunk(TransportContext ctx, Chunk chunk) {
        if (!Ucp.isRequest(chunk.request)) {
            return Ucp.status(chunk.request);
        }
        int status = ctx.worker.testReceive(chunk.request, info.address());
        if (status == Ucp.INPROGRESS) {
            return status;
        }
        Ucp.requestFree(chunk.request);
        long arrived = info.get(JAVA_LONG, 8);
        if (status == Ucp.OK && chunk.length != 0 && arrived != chunk.length) {
            shortChunk = String.format("a chunk of %d bytes where %d were expected", arrived, chunk.length);
            return Ucp.ERR_MESSAGE_TRUNCATED;
        }
        return status;
    }

    private boolean pollChunks(TransportContext ctx) {
        long now = ctx.engine.now();
        if (!failed() && !hold.held() && (hold.failed() || !buffer.scope().isAlive())) {
            // closed before it was held, so before any chunk went in: as if gone at the header
            hold = ArenaHold.NONE;
            TransportFuture.lend(future, null, "a receive", this); // UCX never had it
            refuseAsGone(chunks.total());
        }
        int status = chunks.retire(draining); // a drained chunk is empty or truncated: either way it is gone
        if (status != Ucp.OK) {
            fail(new TransportException("rendezvous chunk from node " + Long.toHexString(sender) + " failed: "
                    + (shortChunk != null ? shortChunk : Ucp.statusString(status)), status));
        }
        if (!failed()) {
            TransportException peerFailure = messaging.connections.peerFailure(sender);
            if (peerFailure != null) {
                fail(peerFailure);
            } else if (now - chunkDeadline > 0) {
                String what = String.format("receive of %d bytes from node %016x", chunks.total(), sender);
                fail(ctx.timedOut(what + " (" + chunks.doneBytes() + " bytes done)"));
                if (bufferWithUcx()) {
                    ctx.overdue(what);
                }
            }
        }
        if (draining && (messaging.connections.peerFailure(sender) != null || now - chunkDeadline > 0)) {
            draining = false; // the sender is gone or stuck: give up on the rest
        }
        if (failed() && !draining) {
            cancelAll(ctx);
        }
        if (draining) {
            chunks.fillEmpty();
        } else if (!failed()) {
            try {
                chunks.fill();
            } catch (TransportException e) {
                fail(e);
            }
        }
        if (chunks.idle() && (failed() && !draining || chunks.allPosted())) {
            early.close();
            messaging.giveInfo(info);
            if (!failed()) {
                messaging.delivered(sender, chunkTag & Tags.ID_MASK); // first: the sender waits on it
                long total = chunks.total();
                if (target == buffer) {
                    TransportFuture.settle(future, total);
                } else { // gone: the sender was told the message is here, and the caller closed its buffer
                    TransportFuture.settleCopied(ctx.engine, future, target, buffer, total, total, () -> gone(total));
                }
            } else {
                TransportFuture.settleExceptionally(future, failure);
            }
            if (target != buffer) {
                messaging.ctx.confinedMemory.give(target); // UCX holds no chunk of it
                target = buffer;
            }
            return true;
        }
        return false;
    }

    private boolean failed() {
        return failure != null;
    }

    /** Fails the receive: its future at once if UCX holds no part of the buffer, else when it lets go. */
    private void fail(TransportException e) {
        if (failure == null) {
            failure = e;
            if (!bufferWithUcx()) {
                TransportFuture.settleExceptionally(future, e);
            }
        }
    }

    /**
     * Whether UCX may still write into the buffer: a receive not matched yet, or a chunk in flight
     * (UCX cannot cancel one that matched: a chunk over TCP whose data came late would land in
     * memory the caller had freed once the future failed).
     */
    private boolean bufferWithUcx() {
        return matched ? chunks != null && !chunks.idle() : held == null && Ucp.isRequest(request);
    }

    /** Cancels what UCX lets us cancel (receives can be); the op finishes on a later poll. */
    void cancelAll(TransportContext ctx) {
        if (!matched && Ucp.isRequest(request)) {
            ctx.worker.cancel(request);
        }
        if (chunks != null) {
            chunks.cancel(ctx.worker);
        }
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        draining = false;
        fail(cause);
        cancelAll(ctx);
    }

    @Override
    void release() {
        if (whenDone != null) {
            whenDone.run();
            whenDone = null;
        }
        if (!matched) {
            free(request);
            request = 0;
        }
        if (chunks != null) {
            chunks.release();
            early.close();
        }
    }

    /** The receive is over before anything landed: UCX holds neither the staging nor the info any more. */
    private void giveBack() {
        messaging.giveInfo(info);
        messaging.staging.give(staging);
        staging = null;
    }

    @Override
    void closed(TransportException cause) {
        TransportFuture.settleExceptionally(future, failure != null ? failure : cause);
    }
}
