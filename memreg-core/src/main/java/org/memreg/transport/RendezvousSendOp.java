package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.device.Access;
import org.memreg.ucx.Ucp;
import org.memreg.util.ArenaHold;

/**
 * A rendezvous send: a 32-byte header (length, message id, sender, chunk size) under the user's
 * tag with the rendezvous bit, then the data in chunks of that size (the last one shorter), each
 * registered through the node's cache and handed to UCX with its memory handle (zero copy), at
 * most {@code pipelineDepth} chunks registered and in flight at once.
 *
 * <p>The future completes once the receiver says it has the whole message ({@link Tags#DELIVERED}),
 * not when UCX is done with the chunks: UCX completes a chunk under its own rendezvous threshold
 * when it is sent, and a rendezvous chunk the receiver truncates (a refused message's) as well as
 * one received. A receiver whose buffer is too small, or that holds too much already, refuses the
 * message: the send fails, and the chunks not yet sent go as empty messages (nothing registered)
 * so that the receiver, which drains as many chunks as the message has, finishes too. Once the
 * endpoint is closed or has failed, nothing more is posted on it. A failed send's future fails
 * once UCX holds none of its chunks (they are the caller's memory), at the latest when the node
 * has closed ({@link #closed}). A send that times out while UCX still holds it keeps the endpoint
 * from starting others ({@link Endpoint#heldSends}).
 */
final class RendezvousSendOp extends Op {
    static final long HEADER_BYTES = 32;

    private final Messaging messaging;
    private final Endpoint endpoint;
    private final CompletableFuture<Long> future;
    private final long total;
    private final long chunkTag;
    private final long id;
    /** The header's buffer until UCX has sent it, then back in the pool (null). */
    private MemorySegment header;
    private final ChunkPipeline chunks;
    private long headerRequest;
    private boolean headerDone;
    /** Why it failed, null while it has not: the future fails with it when UCX holds none of its chunks. */
    private TransportException failure;
    private boolean refused;
    private boolean delivered;
    /** Timed out while UCX still held it: counted in {@link Endpoint#heldSends} until it ends. */
    private boolean held;

    /** {@code hold} holds the arena of {@code data} ({@link ArenaHold}): the future's completion ends it. */
    RendezvousSendOp(Messaging messaging, Endpoint endpoint, long tag, MemorySegment data, ArenaHold hold,
            CompletableFuture<Long> future) {
        super(messaging.ctx.timeoutNanos);
        this.messaging = messaging;
        this.endpoint = endpoint;
        this.future = future;
        this.total = data.byteSize();
        this.id = messaging.nextMessageId();
        this.chunkTag = Tags.CHUNK | id;
        long chunkBytes = messaging.chunking.chunkBytes();
        this.header = messaging.takeHeader();
        header.set(JAVA_LONG, 0, total);
        header.set(JAVA_LONG, 8, id);
        header.set(JAVA_LONG, 16, messaging.ctx.nodeId);
        header.set(JAVA_LONG, 24, chunkBytes); // the receiver chunks as the sender does, whatever its own setting
        this.headerRequest = messaging.ctx.worker.tagSend(endpoint.ep, header.address(), HEADER_BYTES, tag | Tags.RTS_BIT, 0);
        TransportFuture.lend(future, data, "a send", TransportFuture.KEPT_BY_UCX, hold); // nothing throws from here on
        // UCX may be given our memory handles only once the peer confirmed the connection
        this.chunks = new ChunkPipeline(messaging.chunking, chunkBytes, data, hold, total, Access.LOCAL_READ,
                (chunk, length, memh) -> messaging.ctx.worker.tagSend(endpoint.ep, chunk, length, chunkTag,
                        endpoint.ready ? memh : 0), chunk -> check(chunk.request), () -> "send to " + endpoint);
        messaging.rendezvousSends.put(id, this);
    }

    /** The receiver refused the message: its buffer holds only {@code bufferBytes}, or it holds too much, or lost its buffer. */
    void refused(long bufferBytes) {
        if (!failed() && bufferBytes == ReceiveOp.REFUSED_AS_HELD_TOO_MUCH) {
            fail(new TransportException(String.format("%d-byte message refused by %s: it holds as many messages that"
                    + " no receive asked for as it may (%s), and no receive asked for this one", total, endpoint,
                    NodeBuilder.MAX_UNEXPECTED_BYTES_PROP_NAME), Ucp.ERR_EXCEEDS_LIMIT));
        } else if (!failed() && bufferBytes == ReceiveOp.REFUSED_AS_BUFFER_GONE) {
            fail(new TransportException(String.format("%d-byte message refused by %s: the receive it matched had"
                    + " lost its buffer (its arena was closed)", total, endpoint), Ucp.ERR_CANCELED));
        } else if (!failed()) {
            fail(new TransportException(String.format("%d-byte message refused by %s: the receive buffer holds"
                    + " only %d bytes", total, endpoint, bufferBytes), Ucp.ERR_MESSAGE_TRUNCATED));
        }
        refused = true;
    }

    /** The receiver has the whole message. */
    void delivered() {
        delivered = true;
    }

    @Override
    boolean poll(TransportContext ctx) {
        if (!headerDone) {
            int status = check(headerRequest);
            if (status == Ucp.INPROGRESS) {
                return timeout(ctx);
            }
            headerDone = true;
            headerRequest = 0;
            messaging.giveHeader(header);
            header = null;
            if (status != Ucp.OK) {
                fail(endpoint.failure("rendezvous header", status));
            }
        }
        int status = chunks.retire(refused);
        if (status != Ucp.OK && !delivered) { // once delivered, a chunk cancelled by a close changes nothing
            fail(endpoint.failure("rendezvous chunk", status));
        }
        // A closed or failed endpoint's UCX handle is gone: posting on it was a use after free.
        boolean usable = endpoint.isUsable();
        boolean arrived = delivered && chunks.allPosted(); // then a goodbye: the message is there all the same
        if (!usable && !failed() && !arrived) {
            fail(endpoint.unusable("rendezvous send of " + total + " bytes"));
        }
        if (usable && refused) {
            chunks.fillEmpty();
        } else if (usable && !failed()) {
            try {
                chunks.fill();
            } catch (TransportException e) {
                fail(e);
            }
        }
        boolean over = !usable || arrived || failed() && (!refused || chunks.allPosted());
        if (chunks.idle() && over) {
            if (!failed()) {
                TransportFuture.settle(future, total);
            } else {
                TransportFuture.settleExceptionally(future, failure);
            }
            messaging.rendezvousSends.remove(id);
            if (held) {
                endpoint.heldSends--;
            }
            return true;
        }
        return timeout(ctx);
    }

    private boolean timeout(TransportContext ctx) {
        if (!held && !failed() && expired(ctx.engine.now())) {
            String where = chunks.allPosted() && chunks.idle()
                    ? "all sent, but the receiver never said it has them: no receive for its tag, or one too small"
                            + " to read the header"
                    : chunks.doneBytes() + " bytes done";
            String what = "rendezvous send of " + total + " bytes to " + endpoint;
            fail(ctx.timedOut(what + " (" + where + ")"));
            held = true; // not over: UCX still has the header or chunks
            endpoint.heldSends++;
            if (!chunks.idle()) {
                ctx.overdue(what);
            }
        }
        return false;
    }

    private boolean failed() {
        return failure != null;
    }

    /**
     * Fails the send: its future at once if UCX holds none of its chunks, else when UCX lets go of
     * them (a chunk UCX sends from a bounce buffer copies the caller's bytes when it goes, late if
     * the peer is slow: from memory the caller freed once the future failed).
     */
    private void fail(TransportException e) {
        if (failure == null) {
            failure = e;
        }
        if (chunks.idle()) {
            TransportFuture.settleExceptionally(future, failure);
        }
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        fail(cause);
    }

    @Override
    void release() {
        if (!headerDone) {
            free(headerRequest);
            headerRequest = 0;
        }
        chunks.release();
    }

    @Override
    void closed(TransportException cause) {
        TransportFuture.settleExceptionally(future, failure != null ? failure : cause);
    }
}
