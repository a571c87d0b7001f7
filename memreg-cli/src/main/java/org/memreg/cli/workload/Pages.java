package org.memreg.cli.workload;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/** Page-level memory chores of the workloads: make pages resident, free and reallocate in place. */
public final class Pages {
    private Pages() {
    }

    /** Writes {@code value} into every page of the range, so its pages become resident. */
    public static void touch(long address, long length, long value) {
        MemorySegment segment = Mman.segment(address, length);
        long page = SysConf.pageSize();
        for (long offset = 0; offset < length; offset += page) {
            segment.set(ValueLayout.JAVA_LONG, offset, value);
        }
    }

    /**
     * free() then a malloc() that lands at the same address, as allocators do: unmaps the range
     * and maps fresh, touched memory at the same address (elsewhere if someone took the hole).
     * With {@code otherFrames}, a ballast mapping first takes the frames just freed, so the new
     * memory sits in other physical frames, as on a busy system (the kernel otherwise tends to hand
     * the same frame straight back, and a stale registration would go unnoticed by luck).
     */
    public static long reallocate(long address, long length, long value, boolean otherFrames) {
        long ballast = otherFrames ? Mman.mapAnonymous(length) : 0;
        try {
            Mman.munmap(address, length);
            if (otherFrames) {
                touch(ballast, length, 0);
            }
            long fresh;
            try {
                fresh = Mman.mmap(address, length, Mman.PROT_READ | Mman.PROT_WRITE,
                        Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0);
            } catch (LinuxException e) {
                if (e.errno() != Errno.EEXIST) {
                    throw e;
                }
                fresh = Mman.mapAnonymous(length);
            }
            touch(fresh, length, value);
            return fresh;
        } finally {
            if (otherFrames) {
                Mman.munmap(ballast, length);
            }
        }
    }
}
