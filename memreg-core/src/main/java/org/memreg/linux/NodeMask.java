package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;

/**
 * A kernel node mask ({@code unsigned long[]}) as used by {@code mbind}, {@code migrate_pages}
 * and {@code get_mempolicy}: {@link #BITS} bits, enough for any kernel's MAX_NUMNODES (1024).
 *
 * <p>The {@code maxnode} argument those calls take is one more than the bits the mask holds:
 * the kernel decrements it before use (a long-standing quirk; see {@link #maxnode()}).
 */
final class NodeMask {
    /** Bits in every mask memreg passes. */
    static final int BITS = 1024;
    private static final int LONGS = BITS / 64;

    private NodeMask() {
    }

    /** A mask segment in {@code arena} with the bits of {@code nodes} set. */
    static MemorySegment of(Arena arena, BitSet nodes) {
        if (nodes.length() > BITS) {
            throw new IllegalArgumentException("node " + (nodes.length() - 1) + " is beyond " + (BITS - 1));
        }
        MemorySegment mask = arena.allocate(JAVA_LONG, LONGS);
        long[] words = nodes.toLongArray();
        for (int i = 0; i < words.length; i++) {
            mask.setAtIndex(JAVA_LONG, i, words[i]);
        }
        return mask;
    }

    /** An empty mask segment for the kernel to fill in. */
    static MemorySegment empty(Arena arena) {
        return arena.allocate(JAVA_LONG, LONGS);
    }

    /** The nodes set in {@code mask}. */
    static BitSet read(MemorySegment mask) {
        return BitSet.valueOf(mask.toArray(JAVA_LONG));
    }

    /** The {@code maxnode} argument for a mask of {@link #BITS} bits: bits + 1. */
    static long maxnode() {
        return BITS + 1L;
    }
}
