package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PagemapTest {
    private static final long PAGE = SysConf.pageSize();
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @Test
    void shouldSeePagesBecomePresentWhenTouchedAndGoneWhenDropped() {
        long address = Mman.mapAnonymous(4 * PAGE);
        try {
            assertFalse(Pagemap.isPresent(Pagemap.read(address, 1)[0]), "untouched page");
            Mman.segment(address, 4 * PAGE).set(JAVA_LONG, PAGE, 1L);
            long[] entries = Pagemap.read(address, 4);
            assertFalse(Pagemap.isPresent(entries[0]));
            assertTrue(Pagemap.isPresent(entries[1]));
            Madvise.madvise(address, 4 * PAGE, Madvise.MADV_DONTNEED);
            assertFalse(Pagemap.isPresent(Pagemap.read(address + PAGE, 1)[0]));
        } finally {
            Mman.munmap(address, 4 * PAGE);
        }
        assertEquals(0L, Pagemap.read(address, 4)[1], "unmapped pages read as zero");
    }

    @Test
    void shouldShowDistinctFramesWhenRoot() {
        assertEquals(ROOT, Pagemap.pfnsVisible(), "PFNs are visible exactly when root");
        long address = Mman.mapAnonymous(8 * PAGE);
        try {
            Madvise.madvise(address, 8 * PAGE, Madvise.MADV_POPULATE_WRITE);
            long[] frames = Arrays.stream(Pagemap.read(address + 100, 8)).map(Pagemap::pfn).toArray();
            if (ROOT) {
                assertEquals(8, Arrays.stream(frames).filter(f -> f != 0).distinct().count());
            } else {
                assertTrue(Arrays.stream(frames).allMatch(f -> f == 0));
            }
        } finally {
            Mman.munmap(address, 8 * PAGE);
        }
    }

    @Test
    void shouldReadManyPagesAcrossScratchChunks() {
        int pages = 1500;
        long address = Mman.mapAnonymous(pages * PAGE);
        try {
            Madvise.madvise(address, pages * PAGE, Madvise.MADV_POPULATE_WRITE);
            long[] entries = Pagemap.read(address, pages);
            assertTrue(Arrays.stream(entries).allMatch(Pagemap::isPresent));
            assertNotEquals(entries[0], entries[pages - 1]);
            long[] one = new long[1];
            int rounds = 20_000;
            long start = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                Pagemap.read(address + (i % pages) * PAGE, one, 1);
            }
            long single = (System.nanoTime() - start) / rounds;
            start = System.nanoTime();
            for (int i = 0; i < 200; i++) {
                Pagemap.read(address, entries, 512);
            }
            long chunk = (System.nanoTime() - start) / 200;
            System.out.printf("pagemap read: 1 page %d ns, 512 pages %d ns%n", single, chunk);
            assertEquals(entries[7], Pagemap.read(address + 7 * PAGE, 1)[0]);
        } finally {
            Mman.munmap(address, pages * PAGE);
        }
    }
}
