package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MmanTest {
    private static final long PAGE = SysConf.pageSize();

    @Test
    void shouldMapWritableZeroedMemoryAndUnmapIt() {
        long address = Mman.mapAnonymous(4 * PAGE);
        assertEquals(0, address % PAGE);
        assertTrue(Mincore.isMapped(address, 4 * PAGE));
        assertEquals(0L, Mman.segment(address, 4 * PAGE).get(JAVA_LONG, 3 * PAGE));
        Mman.segment(address, 4 * PAGE).set(JAVA_LONG, 3 * PAGE, 42L);
        assertEquals(42L, Mman.segment(address, 4 * PAGE).get(JAVA_LONG, 3 * PAGE));
        Mman.munmap(address, 4 * PAGE);
        assertFalse(Mincore.isMapped(address, PAGE));
    }

    @Test
    void shouldReplaceMemoryWithMapFixed() {
        long address = Mman.mapAnonymous(PAGE);
        try {
            Mman.segment(address, PAGE).set(JAVA_LONG, 0, 7L);
            assertEquals(address, Mman.mapAnonymousFixed(address, PAGE));
            assertEquals(0L, Mman.segment(address, PAGE).get(JAVA_LONG, 0), "new memory is zero filled");
        } finally {
            Mman.munmap(address, PAGE);
        }
    }

    @Test
    void shouldGrowWithMremapKeepingData() {
        long address = Mman.mapAnonymous(PAGE);
        Mman.segment(address, PAGE).set(JAVA_LONG, 8, 99L);
        long moved = Mman.mremap(address, PAGE, 64 * PAGE, Mman.MREMAP_MAYMOVE, 0L);
        try {
            assertEquals(99L, Mman.segment(moved, 64 * PAGE).get(JAVA_LONG, 8));
            assertTrue(Mincore.isMapped(moved, 64 * PAGE));
        } finally {
            Mman.munmap(moved, 64 * PAGE);
        }
    }

    @Test
    void shouldMoveToFixedAddressWithMremap() {
        long source = Mman.mapAnonymous(PAGE);
        long target = Mman.mapAnonymous(PAGE);
        Mman.segment(source, PAGE).set(JAVA_LONG, 0, 5L);
        long moved = Mman.mremap(source, PAGE, PAGE, Mman.MREMAP_MAYMOVE | Mman.MREMAP_FIXED, target);
        try {
            assertEquals(target, moved);
            assertEquals(5L, Mman.segment(target, PAGE).get(JAVA_LONG, 0));
            assertFalse(Mincore.isMapped(source, PAGE));
        } finally {
            Mman.munmap(target, PAGE);
        }
    }

    @Test
    void shouldReportErrnoOfFailedCalls() {
        LinuxException mmap = assertThrows(LinuxException.class, () -> Mman.mapAnonymous(0));
        assertEquals(Errno.EINVAL, mmap.errno());
        assertEquals("mmap", mmap.function());
        assertTrue(mmap.getMessage().contains("EINVAL"), mmap.getMessage());
        LinuxException munmap = assertThrows(LinuxException.class, () -> Mman.munmap(PAGE + 1, PAGE));
        assertEquals(Errno.EINVAL, munmap.errno());
        LinuxException mremap = assertThrows(LinuxException.class,
                () -> Mman.mremap(0x10000, PAGE, 2 * PAGE, 0, 0L));
        assertEquals(Errno.EFAULT, mremap.errno(), mremap.getMessage());
    }

    @Test
    void shouldNameErrnoValues() {
        assertEquals("ENOMEM", Errno.name(Errno.ENOMEM));
        assertEquals("EAGAIN", Errno.name(11));
        assertEquals("EFAULT", Errno.name(14));
        assertEquals("EPERM", Errno.name(1));
        assertEquals("ESRCH", Errno.name(3));
        assertEquals("ENODEV", Errno.name(19));
        assertEquals("errno 200", Errno.name(200));
        assertEquals("mlock failed: ENOMEM (12)", new LinuxException("mlock", 12).getMessage());
    }
}
