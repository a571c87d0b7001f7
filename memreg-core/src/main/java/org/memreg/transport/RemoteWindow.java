package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.memreg.ucx.UcxWorker;

/**
 * A peer's window as the origin sees it: an attached {@link WindowKey} with its unpacked UCX
 * remote key, cached by the {@link Endpoint}. {@link #put} and {@link #get} check the endpoint,
 * the key's generation (against revocations the owner sent), the bounds and the access before
 * anything is sent; a failed check fails the returned future (stale: {@link StaleWindowException};
 * out of bounds: {@link IndexOutOfBoundsException}; wrong access:
 * {@link UnsupportedOperationException}).
 *
 * <p>A put's future completes when the source may be reused; {@link #flush()} when every put and
 * get to this peer completed remotely. The future of a put or get completes only once UCX has let
 * go of the caller's buffer, which it cannot cancel. At the node's timeout, in error mode
 * {@link ErrorMode#PEER}, the endpoint fails and UCX's forced close ends the operation (its
 * future fails with {@code UCS_ERR_TIMED_OUT}); in {@link ErrorMode#NONE} it is logged and waits
 * (a get over TCP from an owner that stopped progressing waits for its answer) until UCX
 * completes it or the node closes. Bound a wait with {@code get(timeout, unit)}; the buffer is
 * the caller's again when the future is done. A put or get cannot be cancelled ({@code cancel}
 * returns false), and only the node completes its future ({@code complete}, {@code orTimeout}
 * and the like throw {@link UnsupportedOperationException} while it is not done).
 */
public final class RemoteWindow {
    final Endpoint endpoint;
    final WindowKey key;
    long rkey;
    volatile boolean revoked;

    RemoteWindow(Endpoint endpoint, WindowKey key, long rkey) {
        this.endpoint = endpoint;
        this.key = key;
        this.rkey = rkey;
    }

    /** Lets UCX free the unpacked remote key, once (under the node's lock). */
    void destroyRkey(UcxWorker worker) {
        if (rkey != 0) {
            worker.destroyRkey(rkey);
            rkey = 0;
        }
    }

    /** The key this window was attached with. */
    public WindowKey key() {
        return key;
    }

    /** Writes {@code source} (native) into the window at {@code offset}. */
    public CompletableFuture<Void> put(long offset, MemorySegment source) {
        return endpoint.rma(this, true, offset, source);
    }

    /** Reads the window at {@code offset} into {@code target} (native, writable). */
    public CompletableFuture<Void> get(long offset, MemorySegment target) {
        return endpoint.rma(this, false, offset, target);
    }

    /** Completes when every put and get to this peer completed remotely. */
    public CompletableFuture<Void> flush() {
        return endpoint.flush();
    }

    @Override
    public String toString() {
        return "RemoteWindow[" + key + " via " + endpoint + "]";
    }
}
