package org.memreg.monitor;

/** Why memory under registrations changed. */
public enum MemoryEventKind {
    /** The range was unmapped (munmap, or mmap MAP_FIXED over it); reported once it is gone. */
    UNMAP,
    /** The range's pages are being dropped (madvise DONTNEED / FREE / REMOVE); reported before. */
    REMOVE,
    /** The range moved (mremap); its old addresses no longer hold it. */
    REMAP
}
