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
 * unasked is late or forged: dropped, not counted.
 *
 * <p>Chunks of rendezvous messages that arrive before their receive (a sender sends them right
 * after the header) are taken too, once every user message before them was, and kept as handles
 * ({@link EarlyChunks}): zero copy still, for their receive takes them straight into the user's
 * buffer. The chunks of a header held here count against the limit at their length (at least
 * {@value #UCX_HELD_BYTES} bytes, what UCX keeps of one), for the probe does not tell an eager
 * chunk, whose bytes UCX holds, from a rendezvous one, whose bytes stay with the sender; one over
 * the limit drops its whole message as a header over the limit is dropped. A chunk of a message
 * whose header is neither held nor matched is let go of after two looks, and counted as dropped.
 *
 * <p>A message under a tag no memreg peer uses (a top byte of none of memreg's kinds, {@link Tags})
 * is dropped and counted at the look that finds it oldest. When the node closes, every message UCX
 * still holds unasked is let go of, so that UCX has none left to warn of when its worker goes.
 *
 * <p>Guarded by the node's lock.
 */
final class UnexpectedMessages extends Op {
    /** Polling rounds per look at UCX's unexpected queue: a look is a downcall, on every round it would tax each message. */
    static final int ROUNDS = 8;
    /**
     * What a held message costs beside its bytes, rounded up: its {@link HeldMessage} (64 bytes),
     * its array's header (16), a queue slot (8) and, for a rendezvous header, its entry under its
     * id (about 56): 144 at most. At 64, a flood of forged headers held some 1.8 times the limit.
     */
    static final long OVERHEAD_BYTES = 160;
    /** Rendezvous messages refused and drained at once, at most: each holds an operation until its chunks came. */
    static final int MAX_DRAINS = 64;
    /** Messages taken per look at most: the round also serves every other operation. */
    static final int MAX_PER_ROUND = 4096;
    /** A user message (eager or a rendezvous header): the tag's top seven bits are zero ({@link Tags}). */
    private static final long USER_MASK = 0xFEL << 56;
    /** A chunk: the tag's top byte is {@link Tags#CHUNK}'s. */
    private static final long CHUNK_MASK = 0xFFL << 56;
    /** What a chunk kept as a handle costs at least: UCX holds an early message in a 9-12 KiB receive buffer here. */
    static final long UCX_HELD_BYTES = 16 * 1024;
    /** Messages up to this size are received into one buffer and copied out at once. */
    private static final long SCRATCH_BYTES = 64 * 1024;

    private final Messaging messaging;
    private final long maxBytes;
    /** Held messages by user tag (without the rendezvous bit), oldest first. */
    private final Map<Long, ArrayDeque<HeldMessage>> byTag = new HashMap<>();
    /** Held rendezvous headers by message id: their chunks are charged to them. */
    private final Map<Long, HeldMessage> headers = new HashMap<>();
    /** Chunks taken before their receive. */
    final EarlyChunks chunks = new EarlyChunks(this::discardChunk);
    /** Messages UCX still receives in parts, until it is done with their buffers. */
    private final List<HeldMessage> arriving = new ArrayList<>();
    private final MemorySegment info = Arena.ofAuto().allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    private final MemorySegment scratch = Arena.ofAuto().allocate(SCRATCH_BYTES, 8);
    private final Warnings warnings;
    private long heldBytes;
    private long dropped;
    private int drains;
    private int rounds;
    /** Looks at UCX's unexpected chunks so far: an orphan chunk's age. */
    private long looks;

    UnexpectedMessages(Messaging messaging, long maxBytes) {
        super(Long.MAX_VALUE / 4);
        this.messaging = messaging;
        this.maxBytes = maxBytes;
        this.warnings = new Warnings(Node.class, "memreg node dropped messages that no receive asked for: it holds "
                + maxBytes + " bytes of them at most (" + NodeBuilder.MAX_UNEXPECTED_BYTES_PROP_NAME + ")");
    }

    /** A message held for a receive under {@code tag}, oldest first, or null: it is the receive's now. */
    HeldMessage take(long tag) {
        if (byTag.isEmpty()) {
            return null;
        }
        ArrayDeque<HeldMessage> queue = byTag.get(tag);
        if (queue == null) {
            return null;
        }
        HeldMessage held = queue.poll();
        if (queue.isEmpty()) {
            byTag.remove(tag);
        }
        unhold(held);
        return held;
    }

    /** {@code held} leaves the node's hold: its bytes and its chunks' charge, and its chunks become orphans. */
    private void unhold(HeldMessage held) {
        heldBytes -= held.length + OVERHEAD_BYTES + held.chunkCost;
        held.chunkCost = 0;
        if (held.id != HeldMessage.NO_ID && headers.get(held.id) == held) {
            headers.remove(held.id);
            chunks.unannounced(held.id, looks); // a receive that matched it claims them at once
        }
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
        if (ctx.closed) {
            discardAll(ctx);
            return false;
        }
        if (++rounds % ROUNDS != 0) {
            return false;
        }
        boolean waiting = ctx.worker.peekUnexpected(info.address()); // mostly not: one look then, not three
        boolean allTaken = !waiting;
        for (int i = 0; i < MAX_PER_ROUND && !allTaken; i++) {
            long message = ctx.worker.takeUnexpected(0, USER_MASK, info.address());
            allTaken = message == 0;
            if (!allTaken) {
                hold(ctx, message, info.get(JAVA_LONG, 0), info.get(JAVA_LONG, 8));
            }
        }
        for (int i = 0; i < MAX_PER_ROUND && waiting; i++) {
            long message = ctx.worker.takeUnexpected(Tags.CTRL, Tags.UNASKED_MASK, info.address());
            if (message == 0) {
                break;
            }
            discard(message);
        }
        if (allTaken) { // a header comes before its chunks: every header in UCX is taken, so theirs are known
            takeChunks(ctx, waiting);
        }
        if (waiting) {
            dropForeign(ctx);
        }
        return false;
    }

    /**
     * Drops the messages under tags no memreg peer sends ({@link Tags#isMemregTag}), oldest first,
     * until the oldest left is one of memreg's (a control message for the standing receive, taken
     * at its next round). Left in UCX, each would hold 9-12 KiB of UCX's buffers for the node's life
     * and lengthen every receive: UCX searches its unexpected messages one by one for a receive
     * under a mask, as memreg's all are.
     */
    private void dropForeign(TransportContext ctx) {
        for (int i = 0; i < MAX_PER_ROUND && ctx.worker.peekUnexpected(info.address()); i++) {
            long tag = info.get(JAVA_LONG, 0);
            long length = info.get(JAVA_LONG, 8);
            if (Tags.isMemregTag(tag)) {
                return;
            }
            long message = ctx.worker.takeUnexpected(tag, Tags.EXACT, info.address()); // the oldest under it: this one
            if (message == 0) {
                return;
            }
            dropped++;
            warnings.warn(() -> String.format("a %d-byte message under tag %x, which no memreg peer uses", length, tag));
            discard(message);
        }
    }

    /**
     * The node closes: lets UCX go of every message it still holds unasked, so that none is left
     * when the worker goes (UCX would warn of each). Each round of the close's last progress.
     */
    private void discardAll(TransportContext ctx) {
        for (int i = 0; i < MAX_PER_ROUND; i++) {
            long message = ctx.worker.takeUnexpected(0, 0, info.address());
            if (message == 0) {
                return;
            }
            discard(message);
        }
    }

    /**
     * Takes the chunks UCX holds ({@code any}: if it holds unexpected messages at all): to their
     * receive, or kept under their held header, or kept as orphans. Orphans age by each call.
     */
    private void takeChunks(TransportContext ctx, boolean any) {
        long look = ++looks;
        chunks.ageOut(look, headers::containsKey);
        for (int i = 0; i < MAX_PER_ROUND && any; i++) {
            long message = ctx.worker.takeUnexpected(Tags.CHUNK, CHUNK_MASK, info.address());
            if (message == 0) {
                return;
            }
            long id = info.get(JAVA_LONG, 0) & Tags.ID_MASK;
            EarlyChunks.Taken chunk = new EarlyChunks.Taken(message, info.get(JAVA_LONG, 8));
            if (chunks.toClaim(id, chunk)) {
                continue;
            }
            HeldMessage header = headers.get(id);
            chunks.keep(id, chunk, header != null, look);
            if (header != null) {
                charge(ctx, header, chunkCost(chunk.length()));
            }
        }
    }

    private static long chunkCost(long length) {
        return Math.max(length, UCX_HELD_BYTES) + OVERHEAD_BYTES;
    }

    /** Charges {@code cost} more to a held header for its chunks; over the limit, its message is dropped. */
    private void charge(TransportContext ctx, HeldMessage header, long cost) {
        header.chunkCost += cost;
        heldBytes += cost;
        if (heldBytes > maxBytes) {
            ArrayDeque<HeldMessage> queue = byTag.get(header.senderTag & Tags.USER_RECEIVE_MASK);
            queue.remove(header);
            if (queue.isEmpty()) {
                byTag.remove(header.senderTag & Tags.USER_RECEIVE_MASK);
            }
            unhold(header);
            dropped++;
            warnings.warn(() -> String.format("a %d-byte message under tag %x, whose chunks came before its receive",
                    header.headerWord(0), header.senderTag & Tags.USER_RECEIVE_MASK));
            refuse(ctx, header);
        }
    }

    /** A held header's id is known: it takes the chunks that came before it (a forger's order), charged. */
    private void announce(TransportContext ctx, HeldMessage header) {
        if (headers.putIfAbsent(header.id, header) != null) {
            return; // a second header under one id is a forger's: the chunks are the first one's
        }
        ArrayDeque<EarlyChunks.Taken> early = chunks.waiting(header.id);
        if (early != null && !early.isEmpty()) {
            charge(ctx, header, early.stream().mapToLong(c -> chunkCost(c.length())).sum());
        }
    }

    /** Lets UCX go of a chunk: of a drained message, or one no receive claimed (then counted as dropped). */
    private void discardChunk(EarlyChunks.Taken chunk, boolean unclaimed) {
        if (unclaimed) {
            dropped++;
            warnings.warn(() -> String.format("a %d-byte chunk of a message no receive claimed", chunk.length()));
        }
        discard(chunk.message());
    }

    private void hold(TransportContext ctx, long message, long senderTag, long length) {
        if (heldBytes + length + OVERHEAD_BYTES > maxBytes || length > Integer.MAX_VALUE - OVERHEAD_BYTES) {
            drop(ctx, message, senderTag, length);
            return;
        }
        HeldMessage held;
        boolean header = isHeader(senderTag, length);
        long status = length <= SCRATCH_BYTES ? ctx.worker.receiveTaken(message, scratch.address(), length, true, 0)
                : Ucp.ERR_NO_RESOURCE;
        if (status == Ucp.OK) {
            held = new HeldMessage(senderTag, length, scratch.asSlice(0, length).toArray(JAVA_BYTE));
            if (header) {
                held.id = held.headerWord(1) & Tags.ID_MASK;
            }
        } else if (header && Ucp.status(status) == Ucp.ERR_NO_RESOURCE) { // a header arrives whole: not this one
            dropped++;
            discard(message);
            return;
        } else if (Ucp.status(status) == Ucp.ERR_NO_RESOURCE) { // arrives in parts: a buffer of its own meanwhile
            MemorySegment into = Arena.ofAuto().allocate(Math.max(1, length), 8);
            long request = ctx.worker.receiveTaken(message, into.address(), length, false, 0);
            held = new HeldMessage(senderTag, length, into, request);
            if (!held.advance(ctx, info.address())) {
                arriving.add(held);
            }
        } else { // UCX let go of it with an error: nothing to hold
            Op.free(status);
            return;
        }
        heldBytes += length + OVERHEAD_BYTES;
        byTag.computeIfAbsent(senderTag & Tags.USER_RECEIVE_MASK, t -> new ArrayDeque<>()).add(held);
        if (held.id != HeldMessage.NO_ID) {
            announce(ctx, held);
        }
    }

    /**
     * Over the limit. A rendezvous header names its sender: a connected one is refused and the
     * message's chunks drained, so that its send fails at once and nothing of it stays in UCX.
     */
    private void drop(TransportContext ctx, long message, long senderTag, long length) {
        dropped++;
        warnings.warn(() -> String.format("%d bytes under tag %x", length, senderTag & Tags.USER_RECEIVE_MASK));
        boolean header = isHeader(senderTag, length);
        if (!header || drains >= MAX_DRAINS) {
            discard(message);
            return;
        }
        long status = ctx.worker.receiveTaken(message, scratch.address(), length, true, 0);
        if (Ucp.status(status) == Ucp.ERR_NO_RESOURCE) { // not whole yet, so still taken: let go of it
            discard(message);
        }
        if (status == Ucp.OK) {
            refuse(ctx, new HeldMessage(senderTag, length, scratch.asSlice(0, length).toArray(JAVA_BYTE)));
        }
    }

    /**
     * Refuses a dropped rendezvous message to its sender when it is connected, and drains its
     * chunks; else they become orphans, and the sender's send times out.
     */
    private void refuse(TransportContext ctx, HeldMessage header) {
        Endpoint sender = messaging.connections.byPeer(header.headerWord(2));
        if (drains >= MAX_DRAINS || sender == null || !sender.isUsable()) {
            return;
        }
        drains++;
        ctx.engine.add(ReceiveOp.refusing(messaging, header, () -> drains--));
    }

    /** A rendezvous header by its look: under a user tag with the rendezvous bit, and of a header's length. */
    private static boolean isHeader(long senderTag, long length) {
        return (senderTag & Tags.RTS_BIT) != 0 && length == RendezvousSendOp.HEADER_BYTES;
    }

    /** Lets UCX go of a taken message: received into nothing, it ends truncated, now or when its parts came. */
    void discard(long message) {
        Op.free(messaging.ctx.worker.receiveTaken(message, scratch.address(), 0, false, 0));
    }

    /** Nothing arriving: no message's parts still coming into a held buffer (UCX's transfer). */
    @Override
    boolean settled() {
        return arriving.isEmpty();
    }

    @Override
    void abort(TransportContext ctx, TransportException cause) {
        // nothing to cancel: a message UCX still receives into a held buffer cannot be (it matched)
    }

    @Override
    void release() {
        chunks.release();
        for (HeldMessage held : arriving) {
            held.release();
        }
    }
}
