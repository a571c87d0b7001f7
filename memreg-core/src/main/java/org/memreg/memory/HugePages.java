package org.memreg.memory;

/** How a {@link RegisteredArena} backs its memory with huge pages. */
public enum HugePages {
    /** Base pages only. */
    NEVER,
    /** Transparent huge pages: 2 MiB-aligned memory with {@code madvise(MADV_HUGEPAGE)}. */
    TRANSPARENT,
    /** Reserved huge pages ({@code MAP_HUGETLB}) when the system has some free, else transparent. */
    AUTO,
    /** Reserved huge pages or fail (root can reserve them: {@code /proc/sys/vm/nr_hugepages}). */
    REQUIRED
}
