package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import org.memreg.ucx.Ucp;

/**
 * A message {@link UnexpectedMessages} took off UCX before a receive asked for it: its sender tag,
 * its length and its bytes, or the buffer they arrive in; a rendezvous header also its message id
 * and what its early chunks count against the node's limit. Guarded by the node's lock.
 */
final class HeldMessage {
    static final long NO_ID = -1;
    final long senderTag;
    final long length;
    private byte[] bytes;
    /** Where a message in parts arrives, and its request, until it has; then its status. */
    private MemorySegment into;
    private long request;
    private int status = Ucp.INPROGRESS;
    /** A rendezvous header's message id, else {@link #NO_ID}. */
    long id = NO_ID;
    /** What this header's chunks waiting in {@link EarlyChunks} count against the limit. */
    long chunkCost;

    HeldMessage(long senderTag, long length, byte[] bytes) {
        this.senderTag = senderTag;
        this.length = length;
        this.bytes = bytes;
        this.status = Ucp.OK;
    }

    HeldMessage(long senderTag, long length, MemorySegment into, long request) {
        this.senderTag = senderTag;
        this.length = length;
        this.into = into;
        this.request = request;
    }

    /** The {@code index}th 8-byte word of the message (a header's: length, id, sender, chunk size). */
    long headerWord(int index) {
        return MemorySegment.ofArray(bytes).get(JAVA_LONG_UNALIGNED, 8L * index);
    }

    /** The node is closing while this message arrives: UCX finishes its receive on its own ({@link Op#release}). */
    void release() {
        Op.free(request); // the buffer stays referenced here until then
        request = 0;
    }

    /** True once every part arrived, or the message failed. */
    boolean arrived() {
        return status != Ucp.INPROGRESS;
    }

    /** Tests the receive of a message in parts; true once it is done (under the lock). */
    boolean advance(TransportContext ctx, long info) {
        if (arrived()) {
            return true;
        }
        int s = Op.checkReceive(ctx, request, info);
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
     * Copies the message into the first {@code capacity} bytes of {@code into} (a receive's {@link
     * Staging}), and its sender tag and length into {@code info}: OK, or the message's error, or
     * truncated when it does not fit (then nothing is copied, as UCX does).
     */
    int deliver(MemorySegment into, long capacity, MemorySegment info) {
        if (status != Ucp.OK) {
            return status;
        }
        if (length > capacity) {
            return Ucp.ERR_MESSAGE_TRUNCATED;
        }
        MemorySegment.copy(bytes, 0, into, JAVA_BYTE, 0, (int) length);
        info.set(JAVA_LONG, 0, senderTag);
        info.set(JAVA_LONG, 8, length);
        return Ucp.OK;
    }
}
