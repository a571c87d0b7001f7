package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.Ucp;
import org.memreg.util.ArenaHold;
import org.memreg.util.OpenArena;

/**
 * A put, get or flush: one UCX request; the future completes with it. A put or get holds the
 * caller's buffer ({@code lent}): its future completes only when UCX lets go of it, for a get that
 * UCX cannot cancel may still write into it (a get over TCP whose future had failed at the
 * timeout wrote into memory the caller had unmapped meanwhile, once its peer came back, and the
 * JVM died). Past the timeout, in error mode PEER its endpoint fails ({@link Endpoint#stalled}),
 * and UCX's forced close ends it; in NONE it is reported ({@link TransportContext#overdue}) and
 * waits, and a close of the node completes it once the worker is gone. A flush or close times out.
 */
final class RmaOp extends Op {
    private final Endpoint endpoint;
    private final CompletableFuture<Void> future;
    private final String what;
    private final Runnable after;
    @SuppressWarnings("unused") // keeps a buffer this op owns reachable until UCX is done with it
    private final MemorySegment keep;
    private final boolean lent;
    /** The node's memory a get into a confined arena's memory lands in ({@link ConfinedMemory}), and that memory; else null. */
    private final MemorySegment landing;
    private final MemorySegment confined;
    private long request;
    /** Why a lent operation fails once UCX lets go of it (the node is closing), or null. */
    private TransportException closing;
    private boolean overdue;

    RmaOp(TransportContext ctx, Endpoint endpoint, long request, String what, CompletableFuture<Void> future,
            MemorySegment keep, Runnable after) {
        this(ctx, endpoint, request, what, future, keep, after, null, ArenaHold.NONE, null);
    }

    /**
     * {@code lent}: a put's or get's, the caller's buffer (see the class comment), and {@code
     * hold} the hold of its arena, which the future's completion ends; else null and {@link ArenaHold#NONE}.
     * A get into {@code confined}, memory of a confined arena, lends the node's memory instead,
     * which is copied into {@code confined} at the end ({@link ConfinedMemory}); else null.
     */
    RmaOp(TransportContext ctx, Endpoint endpoint, long request, String what, CompletableFuture<Void> future,
            MemorySegment keep, Runnable after, MemorySegment lent, ArenaHold hold, MemorySegment confined) {
        super(ctx.timeoutNanos);
        this.endpoint = endpoint;
        this.request = request;
        this.what = what;
        this.future = future;
        this.keep = keep;
        this.after = after;
        this.lent = lent != null;
        this.landing = confined != null ? lent : null;
        this.confined = confined;
        if (lent != null) {
            TransportFuture.lend(future, lent, "a " + what, TransportFuture.KEPT_BY_UCX, hold);
        }
    }

    @Override
    boolean poll(TransportContext ctx) {
        int status = check(request);
        if (status == Ucp.INPROGRESS) {
            if (!overdue && !future.isDone() && expired(ctx.engine.now())) {
                if (lent) {
                    overdue = true;
                    if (!endpoint.stalled(what)) {
                        ctx.overdue(what + " on " + endpoint);
                    }
                } else {
                    TransportFuture.settleExceptionally(future, ctx.timedOut(what + " on " + endpoint));
                }
            }
            return false;
        }
        request = 0;
        if (status == Ucp.OK && confined != null) {
            TransportFuture.settleCopied(ctx.engine, future, landing, confined, landing.byteSize(), null,
                    () -> new TransportException(what + " came, and the memory it was for was gone (its arena closed):"
                            + " dropped", OpenArena.closed(confined, "a " + what)));
        } else if (status == Ucp.OK) {
            TransportFuture.settle(future, null);
        } else {
            TransportFuture.settleExceptionally(future, closing != null ? closing : endpoint.failure(what, status));
        }
        if (after != null) {
            after.run();
        }
        return true;
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        if (lent) {
            closing = cause; // UCX may still use the buffer: the future completes when it is done (or closed)
        } else {
            TransportFuture.settleExceptionally(future, cause);
        }
    }

    @Override
    void release() {
        free(request);
        request = 0;
    }

    @Override
    void closed(TransportException cause) {
        TransportFuture.settleExceptionally(future, cause);
    }
}
