package org.memreg.memory;

/** What backs one allocation of a {@link RegisteredArena}. */
public enum Backing {
    /** Base pages. */
    BASE_PAGES,
    /** Transparent huge pages were asked for (the kernel decides per 2 MiB whether it gives them). */
    TRANSPARENT_HUGE_PAGES,
    /** Reserved 2 MiB huge pages ({@code MAP_HUGETLB}). */
    HUGETLB
}
