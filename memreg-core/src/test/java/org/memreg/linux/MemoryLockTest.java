package org.memreg.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class MemoryLockTest {
    private static final long PAGE = SysConf.pageSize();

    @Test
    void shouldLockAndUnlockPagesAsVmLckShows() {
        long before = ProcStatus.vmLockedBytes();
        long address = Mman.mapAnonymous(16 * PAGE);
        try {
            MemoryLock.mlock(address, 16 * PAGE);
            assertEquals(before + 16 * PAGE, ProcStatus.vmLockedBytes());
            MemoryLock.mlock(address, 16 * PAGE);
            assertEquals(before + 16 * PAGE, ProcStatus.vmLockedBytes(), "the kernel does not count locks");
            MemoryLock.munlock(address, 4 * PAGE);
            assertEquals(before + 12 * PAGE, ProcStatus.vmLockedBytes());
            MemoryLock.munlock(address, 16 * PAGE);
            assertEquals(before, ProcStatus.vmLockedBytes());
        } finally {
            Mman.munmap(address, 16 * PAGE);
        }
    }

    @Test
    void shouldFailWithEnomemOnUnmappedMemoryWhichMincoreConfirms() {
        long address = Mman.mapAnonymous(4 * PAGE);
        Mman.munmap(address + 2 * PAGE, PAGE);
        try {
            assertEquals(Errno.ENOMEM, MemoryLock.tryMlock(address, 4 * PAGE));
            assertFalse(Mincore.isMapped(address, 4 * PAGE));
            assertTrue(Mincore.isMapped(address, 2 * PAGE));
            LinuxException e = assertThrows(LinuxException.class, () -> MemoryLock.munlock(address + 2 * PAGE, PAGE));
            assertEquals(Errno.ENOMEM, e.errno());
        } finally {
            MemoryLock.tryMunlock(address, 2 * PAGE);
            Mman.munmap(address, 4 * PAGE);
        }
    }

    @Test
    void shouldReadMemlockLimit() {
        MemoryLock.Limit limit = MemoryLock.memlockLimit();
        System.out.printf("RLIMIT_MEMLOCK soft %d hard %d%n", limit.soft(), limit.hard());
        assertTrue(limit.soft() == MemoryLock.RLIM_INFINITY || limit.soft() > 0);
        assertTrue(limit.hard() == MemoryLock.RLIM_INFINITY || Long.compareUnsigned(limit.soft(), limit.hard()) <= 0);
    }

    @Test
    void shouldReportResidencyWithMincore() {
        long address = Mman.mapAnonymous(4 * PAGE);
        try {
            assertFalse(Mincore.residency(address, 4 * PAGE)[1]);
            Madvise.madvise(address, 4 * PAGE, Madvise.MADV_POPULATE_WRITE);
            boolean[] resident = Mincore.residency(address, 4 * PAGE);
            assertEquals(4, resident.length);
            for (boolean page : resident) {
                assertTrue(page);
            }
            Madvise.madvise(address, 4 * PAGE, Madvise.MADV_DONTNEED);
            assertFalse(Mincore.residency(address, 4 * PAGE)[0]);
        } finally {
            Mman.munmap(address, 4 * PAGE);
        }
    }

    @Test
    void shouldFailToPopulateUnmappedMemoryWithEnomem() {
        long address = Mman.mapAnonymous(PAGE);
        Mman.munmap(address, PAGE);
        assertEquals(Errno.ENOMEM, Madvise.tryMadvise(address, PAGE, Madvise.MADV_POPULATE_WRITE));
        LinuxException e = assertThrows(LinuxException.class,
                () -> Madvise.madvise(address, PAGE, Madvise.MADV_POPULATE_READ));
        assertTrue(e.getMessage().contains("ENOMEM"));
    }

    @Test
    void shouldRefuseToPopulateReadOnlyMemoryForWriting() {
        long address = Mman.mmap(0, PAGE, Mman.PROT_READ, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
        try {
            int errno = Madvise.tryMadvise(address, PAGE, Madvise.MADV_POPULATE_WRITE);
            assertTrue(errno == Errno.EINVAL || errno == Errno.EFAULT, Errno.name(errno));
            assertEquals(0, Madvise.tryMadvise(address, PAGE, Madvise.MADV_POPULATE_READ));
        } finally {
            Mman.munmap(address, PAGE);
        }
    }
}
