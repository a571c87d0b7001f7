package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import org.memreg.linux.ProcessVm;
import org.memreg.util.OpenArena;

/**
 * The caller's memory of a confined arena, which UCX is never given past a call. Its owner thread
 * alone may close it, at any moment, and nothing can stop that: FFM lets no other thread into the
 * arena (a shared arena's operation holds it open instead, {@link org.memreg.util.ArenaHold}), and
 * a close while UCX used the memory let UCX write into freed memory (the JVM died) or send what the
 * allocator put there next. So where UCX keeps memory past the call (a rendezvous message's
 * chunks, a put or get it has not finished), it gets memory of the node's: a send's or put's data
 * is copied in the call, and what a receive or get brings is copied out once UCX has let go of it
 * ({@link #copy}). Eager messages need neither: UCX copies a send within the call, and a receive's
 * first part lands in memory of the node's anyway ({@link Staging}). The price is one copy of such
 * an operation's bytes; memory of a shared or automatic arena goes to UCX as it is (zero copy).
 *
 * <p>The node's memory for this ({@link #take}) is pooled in power-of-two sizes, at most {@value
 * #KEPT_BYTES} bytes kept, so that it stays registered in the node's chunk cache: fresh memory per
 * message cost a registration per chunk and, once the GC freed it, an invalidation (1 MiB messages
 * moved at 300 MiB/s). Thread-safe.
 */
final class ConfinedMemory {
    /** The most a copy by the kernel moves between two looks at the arena (see {@link #copy}). */
    static final long STEP_BYTES = 1 << 20;
    /** The most bytes the pool keeps. */
    static final long KEPT_BYTES = 64 << 20;
    private static final long MIN_BYTES = 4096;
    /** Runs before each step of a copy by the kernel, after the look at the arena: tests stall a copy there. */
    static volatile Runnable beforeKernelStep = () -> { };
    /** Free pieces by size class: {@link #MIN_BYTES} shifted left by the index. */
    private final ArrayDeque<MemorySegment>[] free;
    private long keptBytes;
    private long taken;

    @SuppressWarnings("unchecked")
    ConfinedMemory() {
        free = new ArrayDeque[64 - Long.numberOfTrailingZeros(MIN_BYTES)];
        for (int i = 0; i < free.length; i++) {
            free[i] = new ArrayDeque<>();
        }
    }

    /**
     * A piece of the node's memory of at least {@code bytes} (a power of two), which UCX may read
     * or write after a call; give it back ({@link #give}) once UCX has let go of it, or drop it (the GC frees it).
     */
    synchronized MemorySegment take(long bytes) {
        taken++;
        int size = sizeClass(bytes);
        MemorySegment piece = free[size].poll();
        if (piece == null) {
            return Arena.ofAuto().allocate(MIN_BYTES << size, 4096);
        }
        keptBytes -= piece.byteSize();
        return piece;
    }

    /** Gives back a piece of {@link #take} that UCX no longer uses; kept while the pool has room. */
    synchronized void give(MemorySegment piece) {
        if (keptBytes + piece.byteSize() <= KEPT_BYTES) {
            free[sizeClass(piece.byteSize())].push(piece);
            keptBytes += piece.byteSize();
        }
    }

    /** How many pieces {@link #take} handed out so far. */
    synchronized long taken() {
        return taken;
    }

    /**
     * A piece of the node's ({@link #take}) that holds a copy of {@code data}, confined memory of
     * this thread's, at its start.
     *
     * @throws IllegalStateException when the arena of {@code data} was closed meanwhile
     */
    MemorySegment copyIn(MemorySegment data, String what) {
        MemorySegment piece = take(data.byteSize());
        if (!copy(data, piece, data.byteSize())) {
            give(piece);
            throw OpenArena.closed(data, what);
        }
        return piece;
    }

    /** 0 for up to {@link #MIN_BYTES}, 1 for up to twice that, and so on. */
    private static int sizeClass(long bytes) {
        return bytes <= MIN_BYTES ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1) - Long.numberOfTrailingZeros(MIN_BYTES);
    }

    /**
     * Copies the first {@code length} bytes of {@code from}, memory this thread may access, into
     * {@code to}; one of them is the caller's memory, the other the node's. Through the segments
     * where this thread may access {@code to} too (a concurrent close of a shared arena then fails
     * the copy, not the memory; the owner of a confined one is this thread, which is not closing
     * it). Else {@code to} is the caller's memory confined to another thread (the transport takes
     * such memory only from its owner, so this is a completion's copy into it), whose owner may
     * close it during the copy: by the kernel ({@code process_vm_writev} on this process),
     * {@value #STEP_BYTES} bytes at a time while its arena is open, so that memory unmapped by a
     * close under the copy fails the copy (EFAULT) instead of killing the JVM. What that cannot
     * catch is memory the allocator kept mapped after the close (blocks of its heap): the rest of
     * the current step would land there, so an operation's completion makes such a copy only where
     * the owner is not known to be free to close it ({@link ConfinedDelivery}). False if an arena
     * was found closed or the kernel stopped at a fault (the copy may then be partial).
     */
    static boolean copy(MemorySegment from, MemorySegment to, long length) {
        try {
            if (to.isAccessibleBy(Thread.currentThread())) {
                MemorySegment.copy(from, 0, to, 0, length);
                return true;
            }
            for (long done = 0; done < length; done += STEP_BYTES) {
                long step = Math.min(STEP_BYTES, length - done);
                if (!to.scope().isAlive()) {
                    return false;
                }
                beforeKernelStep.run();
                if (ProcessVm.writeSelf(to.address() + done, from.asSlice(done, step)) != step) {
                    return false;
                }
            }
            return true;
        } catch (IllegalStateException closed) {
            return false; // closed under the copy: the arena's close stopped it before the memory went
        }
    }
}
