package org.memreg.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Reading {@code /proc/<pid>/maps}: lines as the kernel writes them, and this process's own mappings. */
class ProcessMapsTest {
    private static final long PAGE = SysConf.pageSize();

    @Test
    void shouldParseProcMapsLines() {
        ProcessMaps.Area heap = ProcessMaps.parse("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0    [heap]");
        assertEquals(0x55d0c0a00000L, heap.start());
        assertEquals(0x21000L, heap.length());
        assertTrue(heap.privateAnonymous());
        assertFalse(heap.shared());
        ProcessMaps.Area file = ProcessMaps.parse("7f00a0000000-7f00a0001000 r--p 00000000 08:01 1234  /usr/lib/libc.so.6");
        assertEquals("/usr/lib/libc.so.6", file.path());
        assertTrue(!file.privateAnonymous());
        assertTrue(ProcessMaps.parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]").special());
        ProcessMaps.Area sysv = ProcessMaps.parse("7f00b0000000-7f00b0400000 rw-s 00000000 00:01 65538  /SYSV00000000 (deleted)");
        assertTrue(sysv.shared());
        assertFalse(sysv.privateAnonymous());
        assertEquals("/SYSV00000000 (deleted)", sysv.path());
    }

    @Test
    void shouldHoldAddressesFromStartUpToEndUnsigned() {
        ProcessMaps.Area vsyscall = ProcessMaps.parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]");
        assertTrue(vsyscall.contains(0xffffffffff600000L));
        assertTrue(vsyscall.contains(0xffffffffff600fffL));
        assertFalse(vsyscall.contains(0xffffffffff601000L), "end is exclusive");
        assertFalse(vsyscall.contains(0xffffffffff5fffffL));
        assertFalse(vsyscall.contains(0x1000L), "a low address is below it, not above (unsigned)");
    }

    @Test
    void shouldFindTheAreaHoldingAnAddressOfThisProcess() {
        long privately = Mman.mapAnonymous(4 * PAGE);
        long shared = Mman.mmap(0, 4 * PAGE, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED | Mman.MAP_ANONYMOUS,
                -1, 0);
        try {
            ProcessMaps.Area p = ProcessMaps.holding(privately + 2 * PAGE);
            assertTrue(p.contains(privately) && p.contains(privately + 4 * PAGE - 1), p.toString());
            assertFalse(p.shared(), p.toString());
            assertTrue(p.privateAnonymous(), p.toString());
            ProcessMaps.Area s = ProcessMaps.holding(shared + 3 * PAGE);
            assertTrue(s.contains(shared) && s.contains(shared + 4 * PAGE - 1), s.toString());
            assertTrue(s.shared(), s.toString());
            assertFalse(s.privateAnonymous(), s.toString());
        } finally {
            Mman.munmap(privately, 4 * PAGE);
            Mman.munmap(shared, 4 * PAGE);
        }
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> ProcessMaps.holding(0));
        assertTrue(none.getMessage().contains("no mapping holds 0x0"), none.getMessage());
    }
}
