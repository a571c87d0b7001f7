package org.memreg.util;

import java.lang.foreign.MemorySegment;

/**
 * The check before memory is handed on by address (to UCX, to the kernel, to a pinned thread):
 * the address outlives the segment's arena, so a segment whose arena is closed was a SIGSEGV in
 * the native copy, or a silent write into memory the allocator had handed to someone else.
 */
public final class OpenArena {
    /** A thread that is nobody's: a confined segment is not accessible by it. */
    private static final Thread NOBODY = Thread.ofPlatform().unstarted(() -> { });

    private OpenArena() {
    }

    /**
     * True for native memory of a confined arena: only its owner thread may use it, or close it
     * (memory of every other kind of arena is accessible by any thread).
     */
    public static boolean confined(MemorySegment segment) {
        return segment.isNative() && !segment.isAccessibleBy(NOBODY);
    }

    /** Throws {@link #closed} unless the arena of {@code segment} is open; {@code what} names the use. */
    public static void require(MemorySegment segment, String what) {
        if (!segment.scope().isAlive()) {
            throw closed(segment, what);
        }
    }

    /**
     * Throws {@link WrongThreadException} for memory confined to another thread, as FFM does for
     * any access to it: its owner alone may use it, and may close it at any moment, so a copy of
     * it made by address on this thread could read or write freed memory. {@code what} names the use.
     */
    public static void requireAccessible(MemorySegment segment, String what) {
        if (!segment.isAccessibleBy(Thread.currentThread())) {
            throw new WrongThreadException(what + " of memory confined to another thread: only that thread may use it"
                    + " (or hand it on from a shared or automatic arena): " + segment);
        }
    }

    /** The exception for a segment whose arena is closed, for callers that fail a future with it. */
    public static IllegalStateException closed(MemorySegment segment, String what) {
        return new IllegalStateException(what + " needs a segment whose arena is open; this one is closed: "
                + segment);
    }
}
