package org.memreg.monitor;

/** Why memory under registrations changed, and who said so. */
public enum MemoryEventKind {
    /** The range was unmapped (munmap, or mmap MAP_FIXED over it); userfaultfd, once it is gone. */
    UNMAP,
    /** The range's pages are being dropped (madvise DONTNEED / FREE / REMOVE); userfaultfd, before. */
    REMOVE,
    /** The range moved (mremap); its old addresses no longer hold it. userfaultfd. */
    REMAP,
    /**
     * The range is about to be unmapped, dropped or moved (munmap, mremap, madvise, brk, shmdt,
     * mmap MAP_FIXED through libc): the hooks, before the call runs.
     */
    UNMAPPING,
    /**
     * Events may have been lost (the hooks' or the userfaultfd reader's ring overflowed, or the
     * hooks were lost or came back): the range is everything, every registration is treated as
     * changed.
     */
    SUSPECT,
    /**
     * The kernel says the memory at a registration is no longer the memory that was watched
     * (strict mode's check on a hit).
     */
    STALE
}
