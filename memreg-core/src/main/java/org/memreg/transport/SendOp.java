package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;

/**
 * An eager send: one UCX tagged send that copies the data; done when UCX lets go of the buffer.
 * Most eager sends complete inside the call; only those still in flight become an operation.
 *
 * <p>UCX keeps the buffer of a send it cannot finish at once, beyond the send's timeout if the
 * peer stops receiving, and a caller may free its buffer once the future completes: a peer that
 * came back after the timeout had UCX copy from freed memory, and the JVM died (SIGSEGV in
 * libc's memcpy under the progress loop). So UCX is given the caller's buffer only to send at
 * once ({@link #startFromCaller}); anything else goes from a copy of the node's. A send that
 * timed out while UCX holds it keeps the endpoint from starting more ({@link Endpoint#heldSends}).
 */
final class SendOp extends Op {
    private final Endpoint endpoint;
    private final CompletableFuture<Long> future;
    private final long length;
    @SuppressWarnings("unused") // keeps the node's buffer (a control message, a copy) reachable until UCX is done with it
    private final MemorySegment data;
    private long request;
    /** Timed out while UCX still held it: counted in {@link Endpoint#heldSends} until it ends. */
    private boolean held;

    private SendOp(TransportContext ctx, Endpoint endpoint, long request, MemorySegment data,
            CompletableFuture<Long> future) {
        super(ctx.timeoutNanos);
        this.endpoint = endpoint;
        this.future = future;
        this.length = data.byteSize();
        this.data = data;
        this.request = request;
    }

    /**
     * Sends the caller's {@code data} under {@code tag} (under the node's lock): at once if UCX can
     * take it now, else from a copy (see the class comment), or not at all while the endpoint has
     * a held send ({@link Ucp#ERR_BUSY}). The caller's buffer is free when this returns.
     */
    static void startFromCaller(TransportContext ctx, Endpoint endpoint, long tag, MemorySegment data,
            CompletableFuture<Long> future) {
        int status = Ucp.status(sendAtOnce(ctx, endpoint, tag, data));
        if (status != Ucp.ERR_NO_RESOURCE) {
            finish(endpoint, future, data.byteSize(), status);
        } else if (endpoint.heldSends > 0) {
            future.completeExceptionally(endpoint.busy("send of " + data.byteSize() + " bytes"));
        } else if (start(ctx, endpoint, tag, ctx.copyForUcx(data), future)) {
            ctx.copyKept();
        }
    }

    /**
     * UCX's send of the caller's {@code data} if it can take it within the call (else {@link
     * Ucp#ERR_NO_RESOURCE}), copied by UCX then: given as a segment, so that its arena cannot close
     * during the call (a shared one's close throws meanwhile; a confined one's owner is here, not
     * closing it: memory confined to another thread is refused before this).
     */
    static long sendAtOnce(TransportContext ctx, Endpoint endpoint, long tag, MemorySegment data) {
        return ctx.worker.tagSendAtOnce(endpoint.ep, data, tag);
    }

    /**
     * Sends {@code data}, memory of the node's, under {@code tag} (under the node's lock);
     * {@code future} completes with its length once UCX is done with it, at once or from a later
     * progress. Returns whether UCX keeps {@code data} for now.
     */
    static boolean start(TransportContext ctx, Endpoint endpoint, long tag, MemorySegment data,
            CompletableFuture<Long> future) {
        long request = ctx.worker.tagSend(endpoint.ep, data.address(), data.byteSize(), tag, 0);
        int status = Ucp.status(request);
        if (status == Ucp.INPROGRESS) {
            inFlight(ctx, endpoint, request, data, future);
            return true;
        }
        finish(endpoint, future, data.byteSize(), status);
        return false;
    }

    /** A send UCX has not finished yet ({@code request} in progress): an operation until it does. */
    private static void inFlight(TransportContext ctx, Endpoint endpoint, long request, MemorySegment data,
            CompletableFuture<Long> future) {
        ctx.engine.add(new SendOp(ctx, endpoint, request, data, future));
    }

    @Override
    boolean poll(TransportContext ctx) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (expired(ctx.engine.now()) && !future.isDone()) {
                future.completeExceptionally(ctx.timedOut("send of " + length + " bytes to " + endpoint));
                held = true;
                endpoint.heldSends++;
            }
            return false;
        }
        request = 0;
        if (held) {
            endpoint.heldSends--;
        }
        finish(endpoint, future, length, status);
        return true;
    }

    private static void finish(Endpoint endpoint, CompletableFuture<Long> future, long length, int status) {
        if (status == Ucp.OK) {
            future.complete(length);
        } else {
            future.completeExceptionally(endpoint.failure("send of " + length + " bytes", status));
        }
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        future.completeExceptionally(cause);
    }

    @Override
    void release() {
        free(request);
        request = 0;
    }
}
