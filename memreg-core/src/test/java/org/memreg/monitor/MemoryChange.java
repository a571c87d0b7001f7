package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;

/**
 * The ways memory can change under a registration (libfabric fabtests' mr_cache_evict): each
 * leaves new, touched memory at the same address. A ballast mapping touched in between takes the
 * frames just freed, so the new memory usually sits in other physical frames (the kernel would
 * otherwise often hand the same frame straight back, and there would be nothing to detect).
 */
enum MemoryChange {
    MUNMAP_THEN_MAP_FIXED {
        @Override
        void apply(long address, long length) {
            Mman.munmap(address, length);
            Mman.mapAnonymousFixed(address, length);
        }
    },
    MUNMAP_THEN_PLAIN_REUSE {
        @Override
        void apply(long address, long length) {
            Mman.munmap(address, length);
            long again = Mman.mmap(address, length, Mman.PROT_READ | Mman.PROT_WRITE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0); // a hint, not MAP_FIXED
            if (again != address) {
                Mman.munmap(again, length);
                Mman.mapAnonymousFixed(address, length); // someone took the hole; keep the scenario going
            }
        }
    },
    MREMAP_AWAY_THEN_MAP {
        @Override
        void apply(long address, long length) {
            long elsewhere = Mman.mapAnonymous(length);
            Mman.mremap(address, length, length, Mman.MREMAP_MAYMOVE | Mman.MREMAP_FIXED, elsewhere);
            Mman.mapAnonymousFixed(address, length);
            Mman.munmap(elsewhere, length);
        }
    },
    MADVISE_DONTNEED {
        @Override
        void apply(long address, long length) {
            Madvise.madvise(address, length, Madvise.MADV_DONTNEED);
        }
    };

    /** Changes the memory at {@code [address, address + length)} and writes new data there. */
    abstract void apply(long address, long length);

    /** {@link #apply}, then writes {@code value} into every page of the new memory. */
    void applyAndTouch(long address, long length, long value) {
        long ballast = Mman.mapAnonymous(length);
        try {
            apply(address, length);
            touch(ballast, length, 1L); // takes the frames just freed, before the new memory faults
            touch(address, length, value);
        } finally {
            Mman.munmap(ballast, length);
        }
    }

    static void touch(long address, long length, long value) {
        for (long offset = 0; offset < length; offset += 4096) {
            Mman.segment(address + offset, 8).set(JAVA_LONG, 0, value);
        }
    }
}
