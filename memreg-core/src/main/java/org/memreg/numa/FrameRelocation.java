package org.memreg.numa;

import java.lang.foreign.MemorySegment;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;

/**
 * Gives pages new physical frames and keeps their contents, as a kernel page migration does:
 * copies the range into freshly faulted pages, then moves those over it with {@code mremap}
 * (MREMAP_MAYMOVE | MREMAP_FIXED), which frees the old frames. Used to simulate migration on a
 * machine with one NUMA node ({@link SimulatedPagePlacement}).
 *
 * <p>The mremap is a raw system call ({@link Mman#mremap} with MREMAP_FIXED): UCX 1.13's memory
 * hooks on libc's mremap drop the new-address argument, and the pages went elsewhere while the
 * range kept its old frames. The result is checked either way.
 *
 * <p>The copy is not atomic: a concurrent writer's update during it may be lost (the kernel
 * blocks writers during a real migration). Private anonymous memory only.
 */
final class FrameRelocation {
    private FrameRelocation() {
    }

    /**
     * Relocates {@code [address, address + length)} (page aligned, private anonymous, readable
     * and writable) to new frames.
     *
     * @throws LinuxException when mapping the fresh pages or the mremap fails
     */
    static void relocate(long address, long length) {
        long fresh = Mman.mapAnonymous(length);
        long result;
        try {
            MemorySegment.copy(Mman.segment(address, length), 0, Mman.segment(fresh, length), 0, length);
            result = Mman.mremap(fresh, length, length, Mman.MREMAP_MAYMOVE | Mman.MREMAP_FIXED, address);
        } catch (RuntimeException e) {
            Mman.munmap(fresh, length);
            throw e;
        }
        if (result != address) {
            throw new IllegalStateException(String.format("mremap put 0x%x + %d at 0x%x", address, length, result));
        }
    }
}
