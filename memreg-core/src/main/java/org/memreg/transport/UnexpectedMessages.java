package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.memreg.ucx.Ucp;
import org.memreg.util.Warnings;

/**
 * The messages that arrived before a receive asked for them. UCX keeps each such message until
 * a receive matches it, without limit and in receive buffers of its own (9-12 KiB a message here,
 * whatever its size): a peer that sent messages nobody receives filled the node's memory at some
 * 700 MiB a second. This standing operation takes them off UCX as they come (every
 * {@value #ROUNDS}th polling round) and holds their bytes, at most {@code maxBytes} counted with
 * {@value #OVERHEAD_BYTES} bytes a message; a receive takes its message from here, oldest first
 * under its tag, before it goes to UCX ({@link #take}).
 *
 * <p>Beyond the limit a message is dropped, counted ({@link #dropped}) and reported at most once
 * a second. A dropped rendezvous header is refused to its sender when it is connected (its send
 * fails at once, rather than after its timeout) and the message's chunks are drained, at most
 * {@value #MAX_DRAINS} such drains at once. Answers to control requests (reply, revoke
 * acknowledgement, description) are posted for before the request goes, so one that arrives
 * unasked is late or forged: dropped, not counted. Chunks of rendezvous messages stay in UCX
 * until their receive is posted (a sender sends them right after the header).
 *
 * <p>Guarded by the node's lock.
 */
final class UnexpectedMessages extends Op {
    /** Polling rounds per look at UCX's unexpected queue: a look is a downcall, on every round it would tax each message. */
    static final int ROUNDS = 8;
    /** What a held message costs beside its bytes: its entry, the array's header, a queue slot. */
    static final long OVERHEAD_BYTES = 64;
    /** Rendezvous messages refused and drained at once, at most: each holds an operation until its chunks came. */
    static final int MAX_DRAINS = 64;
    /** Messages taken per look at most: the round also serves every other operation. */
    private static final int MAX_PER_ROUND = 4096;
    /** A user message (eager or a rendezvous header): the tag's top seven bits are zero ({@link Tags}). */
    private static final long USER_MASK = 0xFEL << 56;
    /** Messages up to this size are received into one buffer and copied out at once. */
    private static final long SCRATCH_BYTES = 64 * 1024;

    private final Messaging messaging;
    private final long maxBytes;
    /** Held messages by user tag (without the rendezvous bit), oldest first. */
    private final Map<Long, ArrayDeque<Held>> byTag = new HashMap<>();
    /** Messages UCX still receives in parts, until it is done with their buffers. */
    private final List<Held> arriving = new ArrayList<>();
    private final MemorySegment info = Arena.ofAuto().allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    private final MemorySegment scratch = Arena.ofAuto().allocate(SCRATCH_BYTES, 8);
    private final Warnings warnings;
    private long heldBytes;
    private long dropped;
    private int drains;
    private int rounds;

    UnexpectedMessages(Messaging messaging, long maxBytes) {
        super(Long.MAX_VALUE / 4);
        this.messaging = messaging;
        this.maxBytes = maxBytes;
        this.warnings = new Warnings(Node.class, "memreg node dropped messages that no receive asked for: it holds "
                + maxBytes + " bytes of them at most (" + NodeBuilder.MAX_UNEXPECTED_BYTES_PROP_NAME + ")");
    }

    /** A message held for a receive under {@code tag}, oldest first, or null: it is the receive's now. */
    Held take(long tag) {
        if (byTag.isEmpty()) {
            return null;
        }
        ArrayDeque<Held> queue = byTag.get(tag);
        if (queue == null) {
            return null;
        }
        Held held = queue.poll();
        if (queue.isEmpty()) {
            byTag.remove(tag);
        }
        heldBytes -= held.length + OVERHEAD_BYTES;
        return held;
    }

    long heldBytes() {
        return heldBytes;
    }

    long dropped() {
        return dropped;
    }

    @Override
    boolean poll(TransportContext ctx) {
        if (!arriving.isEmpty()) {
            arriving.removeIf(held -> held.advance(ctx, info.address()));
        }
        if (ctx.closed || ++rounds % ROUNDS != 0) {
            return false;
        }
        for (int i = 0; i < MAX_PER_ROUND; i++) {
            long message = ctx.worker.takeUnexpected(0, USER_MASK, info.address());
            if (message == 0) {
                break;
            }
            hold(ctx, message, info.get(JAVA_LONG, 0), info.get(JAVA_LONG, 8));
        }
        for (int i = 0; i < MAX_PER_ROUND; i++) {
            long message = ctx.worker.takeUnexpected(Tags.CTRL, Tags.UNASKED_MASK, info.address());
            if (message == 0) {
                break;
            }
            discard(ctx, message);
        }
        return false;
    }

    private void hold(TransportContext ctx, long message, long senderTag, long length) {
        if (heldBytes + length + OVERHEAD_BYTES > maxBytes || length > Integer.MAX_VALUE - OVERHEAD_BYTES) {
            drop(ctx, message, senderTag, length);
            return;
        }
        Held held;
        long status = length <= SCRATCH_BYTES ? ctx.worker.receiveTaken(message, scratch.address(), length, true)
                : Ucp.ERR_NO_RESOURCE;
        if (status == Ucp.OK) {
            held = new Held(senderTag, length, scratch.asSlice(0, length).toArray(JAVA_BYTE));
        } else if (Ucp.status(status) == Ucp.ERR_NO_RESOURCE) { // arrives in parts: a buffer of its own meanwhile
            MemorySegment into = Arena.ofAuto().allocate(Math.max(1, length), 8);
            held = new Held(senderTag, length, into, ctx.worker.receiveTaken(message, into.address(), length, false));
            if (!held.advance(ctx, info.address())) {
                arriving.add(held);
            }
        } else { // UCX let go of it with an error: nothing to hold
            Op.free(status);
            return;
        }
        heldBytes += length + OVERHEAD_BYTES;
        byTag.computeIfAbsent(senderTag & Tags.USER_RECEIVE_MASK, t -> new ArrayDeque<>()).add(held);
    }

    /**
     * Over the limit. A rendezvous header names its sender: a connected one is refused and the
     * message's chunks drained, so that its send fails at once and nothing of it stays in UCX.
     */
    private void drop(TransportContext ctx, long message, long senderTag, long length) {
        dropped++;
        warnings.warn(() -> String.format("%d bytes under tag %x", length, senderTag & Tags.USER_RECEIVE_MASK));
        boolean header = (senderTag & Tags.RTS_BIT) != 0 && length == RendezvousSendOp.HEADER_BYTES;
        if (!header || drains >= MAX_DRAINS) {
            discard(ctx, message);
            return;
        }
        long status = ctx.worker.receiveTaken(message, scratch.address(), length, true);
        if (Ucp.status(status) == Ucp.ERR_NO_RESOURCE) { // not whole yet, so still taken: let go of it
            discard(ctx, message);
        }
        if (status != Ucp.OK) {
            return;
        }
        Endpoint sender = messaging.connections.byPeer(scratch.get(JAVA_LONG, 16));
        if (sender == null || !sender.isUsable()) {
            return;
        }
        drains++;
        byte[] bytes = scratch.asSlice(0, length).toArray(JAVA_BYTE);
        ctx.engine.add(ReceiveOp.refusing(messaging, new Held(senderTag, length, bytes), () -> drains--));
    }

    /** Lets UCX go of a taken message: received into nothing, it ends truncated, now or when its parts came. */
    private void discard(TransportContext ctx, long message) {
        Op.free(ctx.worker.receiveTaken(message, scratch.address(), 0, false));
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        // nothing to cancel: a message UCX still receives into a held buffer cannot be (it matched)
    }

    @Override
    void release() {
        for (Held held : arriving) {
            free(held.request); // UCX finishes it on its own; the buffer stays referenced here until then
            held.request = 0;
        }
    }

    /** A message taken off UCX: its sender tag, its length and its bytes, or the buffer they arrive in. */
    static final class Held {
        final long senderTag;
        final long length;
        private byte[] bytes;
        /** Where a message in parts arrives, and its request, until it has; then its status. */
        private MemorySegment into;
        private long request;
        private int status = Ucp.INPROGRESS;

        Held(long senderTag, long length, byte[] bytes) {
            this.senderTag = senderTag;
            this.length = length;
            this.bytes = bytes;
            this.status = Ucp.OK;
        }

        private Held(long senderTag, long length, MemorySegment into, long request) {
            this.senderTag = senderTag;
            this.length = length;
            this.into = into;
            this.request = request;
        }

        /** True once every part arrived, or the message failed. */
        boolean arrived() {
            return status != Ucp.INPROGRESS;
        }

        /** Tests the receive of a message in parts; true once it is done (under the lock). */
        private boolean advance(TransportContext ctx, long info) {
            if (arrived()) {
                return true;
            }
            int s = checkReceive(ctx, request, info);
            if (s == Ucp.INPROGRESS) {
                return false;
            }
            request = 0;
            if (s == Ucp.OK) {
                bytes = into.asSlice(0, length).toArray(JAVA_BYTE);
            }
            into = null;
            status = s;
            return true;
        }

        /**
         * Copies the message to {@code address}, which holds {@code capacity} bytes, and its sender
         * tag and length into {@code info}: OK, or the message's error, or truncated when it does
         * not fit (then nothing is copied, as UCX does).
         */
        @SuppressWarnings("restricted") // the receive's buffer, by address: it may be confined to another thread
        int deliver(long address, long capacity, MemorySegment info) {
            if (status != Ucp.OK) {
                return status;
            }
            if (length > capacity) {
                return Ucp.ERR_MESSAGE_TRUNCATED;
            }
            MemorySegment.copy(bytes, 0, MemorySegment.ofAddress(address).reinterpret(length), JAVA_BYTE, 0,
                    (int) length);
            info.set(JAVA_LONG, 0, senderTag);
            info.set(JAVA_LONG, 8, length);
            return Ucp.OK;
        }
    }
}
