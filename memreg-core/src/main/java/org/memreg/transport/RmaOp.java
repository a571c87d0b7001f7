package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;

/** A put, get or flush: one UCX request; the future completes with it. */
final class RmaOp extends Op {
    private final Endpoint endpoint;
    private final CompletableFuture<Void> future;
    private final String what;
    private final Runnable after;
    @SuppressWarnings("unused") // keeps a buffer this op owns reachable until UCX is done with it
    private final MemorySegment keep;
    private long request;

    RmaOp(TransportContext ctx, Endpoint endpoint, long request, String what, CompletableFuture<Void> future,
            MemorySegment keep, Runnable after) {
        super(ctx.timeoutNanos);
        this.endpoint = endpoint;
        this.request = request;
        this.what = what;
        this.future = future;
        this.keep = keep;
        this.after = after;
    }

    @Override
    boolean poll(TransportContext ctx) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (expired(ctx.engine.now()) && !future.isDone()) {
                TransportFuture.settleExceptionally(future, ctx.timedOut(what + " on " + endpoint));
            }
            return false;
        }
        request = 0;
        if (status == Ucp.OK) {
            TransportFuture.settle(future, null);
        } else {
            TransportFuture.settleExceptionally(future, endpoint.failure(what, status));
        }
        if (after != null) {
            after.run();
        }
        return true;
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        TransportFuture.settleExceptionally(future, cause);
    }

    @Override
    void release() {
        free(request);
        request = 0;
    }
}
