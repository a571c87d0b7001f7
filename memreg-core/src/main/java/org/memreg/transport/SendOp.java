package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;

/** An eager send: one UCX tagged send that copies the data; done when UCX lets go of the buffer. */
final class SendOp extends Op {
    private final Endpoint endpoint;
    private final CompletableFuture<Long> future;
    private final long length;
    @SuppressWarnings("unused") // keeps a control message's buffer reachable until UCX is done with it
    private final MemorySegment data;
    private long request;

    SendOp(Node node, Endpoint endpoint, long tag, MemorySegment data, CompletableFuture<Long> future) {
        super(node.timeoutNanos);
        this.endpoint = endpoint;
        this.future = future;
        this.length = data.byteSize();
        this.data = data;
        this.request = node.worker.tagSend(endpoint.ep, data.address(), length, tag, 0);
    }

    /** True when the send completed (or failed) at once and need not be polled. */
    boolean finishedAtOnce() {
        int status = Ucp.status(request);
        if (status == Ucp.INPROGRESS) {
            return false;
        }
        finish(status);
        return true;
    }

    @Override
    boolean poll(Node node, long now) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (now - deadline > 0 && !future.isDone()) {
                future.completeExceptionally(node.timedOut("send of " + length + " bytes to " + endpoint));
            }
            return false;
        }
        request = 0;
        finish(status);
        return true;
    }

    private void finish(int status) {
        if (status == Ucp.OK) {
            future.complete(length);
        } else {
            future.completeExceptionally(endpoint.failure("send of " + length + " bytes", status));
        }
    }

    @Override
    void abort(Node node, TransportException cause) {
        future.completeExceptionally(cause);
    }
}
