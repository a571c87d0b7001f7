package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Page-aligned native buffers for benchmarks, made resident (filled) as buffers in use are and a
 * gap page apart, and a fixed pseudo-random order to visit them in.
 */
final class ResidentBuffers {
    private ResidentBuffers() {
    }

    /** {@code count} resident buffers of {@code size} bytes from {@code arena}, each page aligned. */
    static MemorySegment[] allocate(Arena arena, int count, long size) {
        MemorySegment[] buffers = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            // A gap page between buffers keeps the cache from merging neighbours.
            buffers[i] = arena.allocate(size + 4096, 4096).asSlice(0, size);
            buffers[i].fill((byte) 1); // resident, as buffers in use are
        }
        return buffers;
    }

    /** A permutation of 0..count-1 (seeded so every run visits in the same order). */
    static int[] order(int count, long seed) {
        int[] order = new int[count];
        for (int i = 0; i < count; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = count - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }
}
