package org.memreg.cli.bench;

import org.memreg.cli.workload.Pages;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * {@code count} buffers of {@code size} bytes carved from one anonymous mapping, each followed by
 * an untouched guard page so that no two buffers touch (a cache could otherwise merge
 * neighbours into one registration). Pages are faulted in by whoever registers them first.
 */
final class GuardedBuffers implements AutoCloseable {
    private final long base;
    private final long mapped;
    private final long stride;
    private final long size;
    private final int count;
    private boolean closed;

    GuardedBuffers(int count, long size) {
        long page = SysConf.pageSize();
        this.count = count;
        this.size = Math.ceilDiv(size, page) * page;
        this.stride = this.size + page;
        this.mapped = stride * count;
        this.base = Mman.mapAnonymous(mapped);
    }

    /** Bytes of the buffers themselves (guard pages excluded). */
    static long bytes(int count, long size) {
        long page = SysConf.pageSize();
        return Math.ceilDiv(size, page) * page * count;
    }

    long address(int index) {
        return base + stride * index;
    }

    /** Each buffer's length: the size asked for, rounded up to pages. */
    long size() {
        return size;
    }

    int count() {
        return count;
    }

    /** Writes one long per page of buffer {@code index}: the pages become resident. */
    void touch(int index, long value) {
        Pages.touch(address(index), size, value);
    }


    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Mman.munmap(base, mapped);
        }
    }
}
