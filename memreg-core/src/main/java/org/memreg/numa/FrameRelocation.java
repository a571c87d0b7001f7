package org.memreg.numa;

import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcessVm;

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
 * blocks writers during a real migration). A range unmapped during the copy is an error; one
 * unmapped between the copy and the mremap gets the copy mapped there again. Private anonymous
 * memory only.
 */
final class FrameRelocation {
    private FrameRelocation() {
    }

    /**
     * Relocates {@code [address, address + length)} (page aligned, private anonymous, readable
     * and writable) to new frames.
     *
     * @throws LinuxException when mapping the fresh pages or the mremap fails, or the range was
     *     unmapped while it was copied
     */
    static void relocate(long address, long length) {
        long fresh = Mman.mapAnonymous(length);
        long result;
        try {
            // A fault-safe copy: another thread may unmap the range meanwhile (a copy by loads killed the JVM)
            long copied = ProcessVm.readSelf(address, Mman.segment(fresh, length));
            if (copied != length) {
                throw new LinuxException("process_vm_readv", copied < 0 ? (int) -copied : Errno.EFAULT,
                        String.format("[0x%x, 0x%x) was unmapped while its pages were copied", address,
                                address + length));
            }
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
