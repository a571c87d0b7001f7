package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.memreg.linux.CpuAffinity;
import org.memreg.linux.Errno;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcessMaps;
import org.memreg.linux.SysConf;

/**
 * Faults every page of a range in for writing from a platform thread pinned to some CPUs, without
 * touching its contents: {@code madvise(MADV_POPULATE_WRITE)} does what a write would (an untouched
 * page, or the zero page, is replaced by a fresh page allocated by the faulting thread's policy)
 * with no access to the memory, so a range another thread unmaps meanwhile is an error, not a
 * SIGSEGV: a touch by a write did kill the JVM so (a probe that unmapped 64 MiB under it, 1 of
 * 200 rounds). On kernels before 5.14 (no such advice) each page takes an atomic add of zero, a
 * write that cannot lose a concurrent writer's update (nor survive such an unmap).
 */
final class PinnedTouch {
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private PinnedTouch() {
    }

    /**
     * Whether the kernel has {@code MADV_POPULATE_WRITE} (5.14 on), asked once of a fresh page of
     * our own. Its EINVAL means no such advice only here: on a range another thread unmapped, a
     * mapping made there since without write access (a new thread's guard page) says EINVAL too,
     * and a touch by a write then died on it (the VM's kernel, 6.1).
     */
    private static final class Populate {
        static final boolean SUPPORTED = probe();

        private static boolean probe() {
            long page = Mman.mapAnonymous(SysConf.pageSize());
            try {
                return Madvise.tryMadvise(page, SysConf.pageSize(), Madvise.MADV_POPULATE_WRITE) == 0;
            } finally {
                Mman.munmap(page, SysConf.pageSize());
            }
        }
    }

    /** Runs {@code touch} of the range on a new thread pinned to {@code cpus} and waits for it. */
    static void touch(List<Integer> cpus, long address, long length, long pageSize) throws InterruptedException {
        long first = address - Long.remainderUnsigned(address, pageSize);
        if (!ProcessMaps.writable(first, address + length - first)) { // else the touch was a SIGSEGV
            throw new IllegalArgumentException(String.format("cannot touch [0x%x, 0x%x): not all of it is mapped"
                    + " writable in this process", address, address + length));
        }
        run(cpus, () -> touchHere(address, length, pageSize));
    }

    /** Runs {@code task} on a new platform thread pinned to {@code cpus}; rethrows its failure. */
    static void run(List<Integer> cpus, Runnable task) throws InterruptedException {
        if (cpus.isEmpty()) {
            throw new IllegalStateException("the node has no CPU to touch its memory from");
        }
        BitSet set = new BitSet();
        cpus.forEach(set::set);
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("memreg-first-touch").unstarted(() -> {
            try {
                CpuAffinity.set(set);
                task.run();
            } catch (RuntimeException e) {
                failure.set(e);
            }
        });
        thread.start();
        thread.join();
        if (failure.get() != null) {
            throw failure.get();
        }
    }

    /** Faults every page of the range in for writing from the calling thread. */
    static void touchHere(long address, long length, long pageSize) {
        long first = address - Long.remainderUnsigned(address, pageSize);
        if (Populate.SUPPORTED) {
            int errno = Madvise.tryMadvise(first, address + length - first, Madvise.MADV_POPULATE_WRITE);
            if (errno != 0) { // ENOMEM: not all mapped any more; EINVAL: mapped again without write (a guard page)
                throw new IllegalArgumentException(String.format("cannot touch [0x%x, 0x%x): %s", address,
                        address + length, Errno.name(errno)));
            }
            return;
        }
        MemorySegment memory = Mman.segment(first, address + length - first);
        for (long offset = 0; offset < memory.byteSize(); offset += pageSize) {
            long unused = (long) LONG.getAndAdd(memory, offset, 0L);
        }
    }
}
