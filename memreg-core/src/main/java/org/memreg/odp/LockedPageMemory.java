package org.memreg.odp;

import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.SysConf;

/**
 * The real {@link PageMemory} of an ODP region at {@code [address, address + pages * pageSize)}:
 * release is {@code munlock} then {@code madvise(MADV_DONTNEED)} (the pages go back to the kernel;
 * a private anonymous page reads as zero when touched again), and for a shared mapping also
 * {@code MADV_REMOVE} (DONTNEED alone would only drop the page-table entries, the shared pages
 * would stay resident). Establish is {@code MADV_POPULATE_WRITE} then {@code mlock}. Failures throw
 * {@link LinuxException}: the table calls this on its own thread, and a failed pin is reported,
 * not hidden.
 */
public final class LockedPageMemory implements PageMemory {
    static final int MADV_REMOVE = 9;
    private final long address;
    private final long pageSize;
    private final boolean shared;

    /** Memory at {@code address} (page aligned); {@code shared} for MAP_SHARED mappings. */
    public LockedPageMemory(long address, boolean shared) {
        this.pageSize = SysConf.pageSize();
        if (address % pageSize != 0) {
            throw new IllegalArgumentException("address not page aligned: 0x" + Long.toHexString(address));
        }
        this.address = address;
        this.shared = shared;
    }

    /** Populates and pins {@code range}, as the region's start state (every page PRESENT). */
    public LockedPageMemory establishAll(int pages) {
        establish(new PageRange(0, pages));
        return this;
    }

    @Override
    public void release(PageRange range) {
        long at = address + range.first() * pageSize;
        long length = range.count() * pageSize;
        MemoryLock.munlock(at, length);
        Madvise.madvise(at, length, Madvise.MADV_DONTNEED);
        if (shared) {
            Madvise.madvise(at, length, MADV_REMOVE);
        }
    }

    @Override
    public void establish(PageRange range) {
        long at = address + range.first() * pageSize;
        long length = range.count() * pageSize;
        Madvise.madvise(at, length, Madvise.MADV_POPULATE_WRITE);
        MemoryLock.mlock(at, length);
    }
}
