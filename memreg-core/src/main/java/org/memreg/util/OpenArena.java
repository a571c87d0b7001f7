package org.memreg.util;

import java.lang.foreign.MemorySegment;

/**
 * The check before memory is handed on by address (to UCX, to the kernel, to a pinned thread):
 * the address outlives the segment's arena, so a segment whose arena is closed was a SIGSEGV in
 * the native copy, or a silent write into memory the allocator had handed to someone else.
 */
public final class OpenArena {
    private OpenArena() {
    }

    /** Throws {@link #closed} unless the arena of {@code segment} is open; {@code what} names the use. */
    public static void require(MemorySegment segment, String what) {
        if (!segment.scope().isAlive()) {
            throw closed(segment, what);
        }
    }

    /** The exception for a segment whose arena is closed, for callers that fail a future with it. */
    public static IllegalStateException closed(MemorySegment segment, String what) {
        return new IllegalStateException(what + " needs a segment whose arena is open; this one is closed: "
                + segment);
    }
}
