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

    RmaOp(Node node, Endpoint endpoint, long request, String what, CompletableFuture<Void> future,
            MemorySegment keep, Runnable after) {
        super(node.timeoutNanos);
        this.endpoint = endpoint;
        this.request = request;
        this.what = what;
        this.future = future;
        this.keep = keep;
        this.after = after;
    }

    @Override
    boolean poll(Node node) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (expired(node.engine.now()) && !future.isDone()) {
                future.completeExceptionally(node.timedOut(what + " on " + endpoint));
            }
            return false;
        }
        request = 0;
        if (status == Ucp.OK) {
            future.complete(null);
        } else {
            future.completeExceptionally(endpoint.failure(what, status));
        }
        if (after != null) {
            after.run();
        }
        return true;
    }

    @Override
    void abort(Node node, TransportException cause) {
        future.completeExceptionally(cause);
    }
}
