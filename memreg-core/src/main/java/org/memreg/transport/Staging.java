package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * The node's own memory that a receive's first part lands in ({@link ReceiveOp}): an eager message
 * (at most {@link NodeBuilder#MAX_EAGER_BYTES}) or a rendezvous header, copied into the caller's
 * buffer afterwards only if the buffer is still there ({@link ConfinedMemory#copy}). UCX writes into a posted receive's memory at
 * the moment a message matches, whenever that is; a caller that freed its buffer before (an arena
 * closed around a receive it no longer waits for) had that write land in freed memory, and the JVM
 * died in libc's allocator.
 *
 * <p>Pooled in power-of-two sizes from {@value #MIN_BYTES} bytes, a bounded number of each, so an
 * 8-byte round trip allocates nothing; what the pool does not keep the GC frees (each piece has an
 * automatic arena). Guarded by the node's lock.
 */
final class Staging {
    static final long MIN_BYTES = 64;
    /** The largest piece: a receive's first part is at most this long. */
    static final long MAX_BYTES = NodeBuilder.MAX_EAGER_BYTES;
    /** Bytes the pool keeps of each size, at least {@value #MIN_KEPT} pieces. */
    private static final long KEPT_BYTES = 256 << 10;
    private static final int MIN_KEPT = 8;
    private final ArrayDeque<MemorySegment>[] free;

    @SuppressWarnings("unchecked")
    Staging() {
        free = new ArrayDeque[sizeClass(MAX_BYTES) + 1];
        for (int i = 0; i < free.length; i++) {
            free[i] = new ArrayDeque<>();
        }
    }

    /** A piece of at least {@code bytes} (at most {@link #MAX_BYTES}), for one receive at a time. */
    MemorySegment take(long bytes) {
        int size = sizeClass(bytes);
        MemorySegment piece = free[size].poll();
        return piece != null ? piece : Arena.ofAuto().allocate(MIN_BYTES << size, MIN_BYTES);
    }

    /** Gives back a piece UCX no longer holds (null: nothing to give). */
    void give(MemorySegment piece) {
        if (piece == null) {
            return;
        }
        ArrayDeque<MemorySegment> pool = free[sizeClass(piece.byteSize())];
        if (pool.size() < Math.max(MIN_KEPT, KEPT_BYTES / piece.byteSize())) {
            pool.push(piece);
        }
    }

    /** 0 for up to {@link #MIN_BYTES}, 1 for up to twice that, and so on. */
    static int sizeClass(long bytes) {
        if (bytes < 0 || bytes > MAX_BYTES) {
            throw new IllegalArgumentException("a staged part holds 0 to " + MAX_BYTES + " bytes: " + bytes);
        }
        return bytes <= MIN_BYTES ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1) - Long.numberOfTrailingZeros(MIN_BYTES);
    }
}
