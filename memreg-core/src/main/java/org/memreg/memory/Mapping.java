package org.memreg.memory;

import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;

/**
 * One anonymous mapping of a {@link RegisteredArena}: maps with the requested alignment and huge
 * page policy, and unmaps.
 */
record Mapping(long address, long length, Backing backing) {
    static final long HUGE_PAGE = 2L << 20;
    private static final int MAP_HUGE_2MB = 21 << 26; // MAP_HUGE_SHIFT 26, log2(2 MiB)

    static Mapping map(long byteSize, long alignment, long pageSize, HugePages hugePages) {
        if (hugePages == HugePages.AUTO || hugePages == HugePages.REQUIRED) {
            long length = roundUp(byteSize, HUGE_PAGE);
            try {
                long address = Mman.mmap(0L, length, Mman.PROT_READ | Mman.PROT_WRITE,
                        Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_HUGETLB | MAP_HUGE_2MB, -1, 0L);
                return new Mapping(address, length, Backing.HUGETLB); // hugetlb mappings are 2 MiB aligned
            } catch (LinuxException e) {
                if (hugePages == HugePages.REQUIRED || e.errno() != Errno.ENOMEM) {
                    throw new IllegalStateException("no reserved 2 MiB huge pages for " + length
                            + " bytes (reserve some in /proc/sys/vm/nr_hugepages): " + e.getMessage(), e);
                }
            }
        }
        boolean transparent = hugePages != HugePages.NEVER;
        long align = Math.max(alignment, transparent ? HUGE_PAGE : pageSize);
        long length = roundUp(byteSize, transparent ? HUGE_PAGE : pageSize);
        long address = mapAligned(length, align, pageSize);
        if (transparent) {
            Madvise.madvise(address, length, Madvise.MADV_HUGEPAGE);
        }
        return new Mapping(address, length, transparent ? Backing.TRANSPARENT_HUGE_PAGES : Backing.BASE_PAGES);
    }

    /** Maps {@code length} bytes at an {@code align}-aligned address: over-map, then trim both ends. */
    private static long mapAligned(long length, long align, long pageSize) {
        if (align <= pageSize) {
            return Mman.mapAnonymous(length);
        }
        long raw = Mman.mapAnonymous(length + align);
        long address = roundUp(raw, align);
        if (address > raw) {
            Mman.munmap(raw, address - raw);
        }
        long tail = raw + length + align - (address + length);
        if (tail > 0) {
            Mman.munmap(address + length, tail);
        }
        return address;
    }

    void unmap() {
        Mman.munmap(address, length);
    }

    static long roundUp(long value, long multiple) {
        return Math.ceilDiv(value, multiple) * multiple;
    }
}
