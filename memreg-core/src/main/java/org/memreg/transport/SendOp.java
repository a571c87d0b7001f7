package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;

/**
 * An eager send: one UCX tagged send that copies the data; done when UCX lets go of the buffer.
 * Most eager sends complete inside the call; only those still in flight become an operation.
 */
final class SendOp extends Op {
    private final Endpoint endpoint;
    private final CompletableFuture<Long> future;
    private final long length;
    @SuppressWarnings("unused") // keeps a control message's buffer reachable until UCX is done with it
    private final MemorySegment data;
    private long request;

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
     * Sends {@code data} under {@code tag} (under the node's lock); {@code future} completes with
     * its length once UCX is done with the buffer, at once or from a later progress.
     */
    static void start(TransportContext ctx, Endpoint endpoint, long tag, MemorySegment data,
            CompletableFuture<Long> future) {
        long request = ctx.worker.tagSend(endpoint.ep, data.address(), data.byteSize(), tag, 0);
        int status = Ucp.status(request);
        if (status == Ucp.INPROGRESS) {
            inFlight(ctx, endpoint, request, data, future);
        } else {
            finish(endpoint, future, data.byteSize(), status);
        }
    }

    /** A send UCX has not finished yet ({@code request} in progress): an operation until it does. */
    static void inFlight(TransportContext ctx, Endpoint endpoint, long request, MemorySegment data,
            CompletableFuture<Long> future) {
        ctx.engine.add(new SendOp(ctx, endpoint, request, data, future));
    }

    @Override
    boolean poll(TransportContext ctx) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (expired(ctx.engine.now()) && !future.isDone()) {
                future.completeExceptionally(ctx.timedOut("send of " + length + " bytes to " + endpoint));
            }
            return false;
        }
        request = 0;
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
