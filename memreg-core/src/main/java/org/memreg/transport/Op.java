package org.memreg.transport;

import org.memreg.ucx.Ucp;

/**
 * One operation in flight on a node's worker: a send, a receive, a put. {@link #poll} runs under
 * the node's lock after every worker progress and says whether the operation has finished with
 * UCX (its requests freed, its registrations released). The future of an operation on the
 * caller's memory (lent: {@link TransportFuture#lend}) completes only once UCX has let go of that
 * memory, at the latest when the node closed ({@link #closed}); another operation's future may
 * complete earlier (a timeout), and the operation outlives it until UCX lets go of the buffer.
 */
abstract class Op {
    private final long timeoutNanos;
    /** 0 until the first {@link #expired} call: no clock read for operations that finish at once. */
    private long deadline;

    Op(long timeoutNanos) {
        this.timeoutNanos = timeoutNanos;
    }

    /** True once the timeout has passed since the operation was first polled (at {@code now}). */
    final boolean expired(long now) {
        if (deadline == 0) {
            deadline = (now + timeoutNanos) | 1; // never 0 again
            return false;
        }
        return now - deadline > 0;
    }

    /**
     * Advances the operation; true once nothing of it is left in UCX. The time, where a deadline
     * needs it, is {@code ctx.engine.now()}: read once per round, and only if asked.
     */
    abstract boolean poll(TransportContext ctx);

    /** The node is closing or the endpoint failed: fail the future, cancel what can be cancelled. */
    abstract void abort(TransportContext ctx, TransportException cause);

    /**
     * The node is closing and this operation has not finished: hands every UCX request it still
     * holds back to UCX, which finishes each on its own. A request the node never freed makes
     * UCX 1.13 abort the process when the worker is destroyed (an endpoint's close that waited
     * for a peer which did not answer) or leak it.
     */
    abstract void release();

    /**
     * The node has closed with this operation {@link #release released} to UCX, and its worker is
     * gone: UCX uses no memory of the operation's any more. A future that waited for UCX to let go
     * of the caller's memory completes here with {@code cause}; nothing else by default.
     */
    void closed(TransportException cause) {
    }

    /**
     * For a closing node: true when this operation has nothing in UCX's hands, so the worker may
     * go. An operation that has is still polled; one that finished has left the list. Standing
     * operations (which never finish) override it.
     */
    boolean settled() {
        return false;
    }

    /** Frees {@code request} if it is one (a status pointer is not): UCX's, even while it runs. */
    static void free(long request) {
        if (Ucp.isRequest(request)) {
            Ucp.requestFree(request);
        }
    }

    /**
     * {@link #check} for a tagged receive: INPROGRESS while it runs, else OK or its error with the
     * sender tag and length in {@code info}, the request freed. Status pointers pass through.
     */
    static int checkReceive(TransportContext ctx, long request, long info) {
        if (!Ucp.isRequest(request)) {
            return Ucp.status(request);
        }
        int status = ctx.worker.testReceive(request, info);
        if (status != Ucp.INPROGRESS) {
            Ucp.requestFree(request);
        }
        return status;
    }

    /**
     * The status of a request returned by a UCX operation, freeing it once complete: INPROGRESS
     * while it runs, else OK or its error. Status pointers that were immediate results pass through.
     */
    static int check(long request) {
        if (!Ucp.isRequest(request)) {
            return Ucp.status(request);
        }
        int status = Ucp.requestCheckStatus(request);
        if (status != Ucp.INPROGRESS) {
            Ucp.requestFree(request);
        }
        return status;
    }
}
