package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;
import org.memreg.ucx.Ucp;
import org.memreg.util.Warnings;

/**
 * A receive of control messages (hello, reply, ack, revoke and its acknowledgement) into a small
 * buffer of its own; on each message it calls the handler with the sender tag and the payload,
 * and re-posts itself when {@code persistent}. Control messages are eager and small.
 */
final class ControlReceive extends Op {
    static final int BUFFER_BYTES = 4096;

    private final long tag;
    private final long mask;
    private final boolean persistent;
    private final BiConsumer<Long, MemorySegment> handler;
    private final MemorySegment buffer = Arena.ofAuto().allocate(BUFFER_BYTES, 8);
    private final MemorySegment info = Arena.ofAuto().allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    private final Warnings malformed = new Warnings(Node.class,
            "memreg node dropped control messages it could not read");
    private long request;
    private boolean cancelled;

    ControlReceive(TransportContext ctx, long tag, long mask, boolean persistent, BiConsumer<Long, MemorySegment> handler) {
        super(Long.MAX_VALUE / 4);
        this.tag = tag;
        this.mask = mask;
        this.persistent = persistent;
        this.handler = handler;
        post(ctx);
    }

    private void post(TransportContext ctx) {
        request = ctx.worker.tagReceive(buffer.address(), BUFFER_BYTES, tag, mask, 0, info.address());
    }

    @Override
    boolean poll(TransportContext ctx) {
        while (true) {
            int status = checkReceive(ctx, request, info.address());
            if (status == Ucp.INPROGRESS) {
                return false;
            }
            request = 0;
            if (status == Ucp.OK && !cancelled) {
                try {
                    handler.accept(info.get(JAVA_LONG, 0), buffer.asSlice(0, info.get(JAVA_LONG, 8)));
                } catch (RuntimeException e) { // a peer's bad bytes must not stop the progress loop
                    malformed.warn(e instanceof IllegalArgumentException ? e.getMessage() : e.toString());
                }
            }
            if (!persistent || cancelled || status == Ucp.ERR_CANCELED) {
                return true;
            }
            post(ctx);
        }
    }

    /** Stops: cancels the posted receive; the op finishes on a later poll. */
    void cancel(TransportContext ctx) {
        cancelled = true;
        if (Ucp.isRequest(request)) {
            ctx.worker.cancel(request);
        }
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        cancel(ctx);
    }

    @Override
    void release() {
        free(request);
        request = 0;
    }
}
