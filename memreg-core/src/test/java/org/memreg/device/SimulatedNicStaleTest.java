package org.memreg.device;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;
import org.memreg.testkit.Unprivileged;

/** The seed-000 scenarios: memory replaced under a registration is detected, never crashes. */
@Unprivileged
class SimulatedNicStaleTest {
    private static final long PAGE = SysConf.pageSize();
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));
    private final SimulatedNic nic = SimulatedNic.builder().free().strict(false).build();
    private final SimulatedNic strictNic = SimulatedNic.builder().free().strict(true).build();
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        nic.close();
        strictNic.close();
        arena.close();
    }

    @Test
    void shouldSayWhetherItDetectsStalePages() {
        assertEquals(ROOT, nic.detectsStalePages(), "frame numbers are visible exactly to root");
    }

    @Test
    void shouldDetectNewMemoryMappedOverARegisteredPage() {
        assumeTrue(nic.detectsStalePages(), "needs frame numbers (root)");
        long address = Mman.mapAnonymous(PAGE);
        long keeper = Mman.mapAnonymous(PAGE);
        try {
            Mman.segment(address, PAGE).set(JAVA_LONG, 0, 1111L);
            MemoryRegion region = nic.register(address, PAGE, Access.ALL);
            MemoryRegion strictRegion = strictNic.register(address, PAGE, Access.ALL);
            // Move the old frame to 'keeper' (as a NIC's pin would keep it alive), so the new
            // memory at 'address' is certainly another frame; then map new memory there.
            Mman.mremap(address, PAGE, PAGE, Mman.MREMAP_MAYMOVE | Mman.MREMAP_FIXED | Mman.MREMAP_DONTUNMAP, keeper);
            Mman.mapAnonymousFixed(address, PAGE);
            Mman.segment(address, PAGE).set(JAVA_LONG, 0, 2222L);

            MemorySegment buffer = arena.allocate(8);
            assertEquals(Transfer.STALE, nic.read(region.remoteKey(), address, buffer));
            assertEquals(0L, buffer.get(JAVA_LONG, 0), "no data moved");
            buffer.set(JAVA_LONG, 0, 3333L);
            assertEquals(Transfer.STALE, nic.write(region.localKey(), address, buffer));
            assertEquals(2222L, Mman.segment(address, PAGE).get(JAVA_LONG, 0), "new memory untouched");
            assertEquals(2, nic.staleTransfers());
            assertEquals(0, nic.transfers());

            StaleTransferException e = assertThrows(StaleTransferException.class,
                    () -> strictNic.write(strictRegion.localKey(), address, buffer));
            assertEquals(address, e.address());
            assertTrue(e.getMessage().contains("moved from frame"), e.getMessage());
            assertEquals(1, strictNic.staleTransfers());
        } finally {
            Mman.munmap(address, PAGE);
            Mman.munmap(keeper, PAGE);
        }
    }

    @Test
    void shouldDetectMunmapThenMapAtTheSameAddress() {
        assumeTrue(nic.detectsStalePages(), "needs frame numbers (root)");
        int stale = 0;
        int attempts = 0;
        for (; attempts < 50 && stale < 3; attempts++) {
            long address = Mman.mapAnonymous(PAGE);
            long ballast = Mman.mapAnonymous(PAGE);
            Mman.segment(address, PAGE).set(JAVA_LONG, 0, 1L);
            MemoryRegion region = nic.register(address, PAGE, Access.ALL);
            long oldFrame = Pagemap.pfn(Pagemap.read(address, 1)[0]);
            Mman.munmap(address, PAGE);
            // The freed frame tops this CPU's free list; let the ballast take it, mostly.
            Mman.segment(ballast, PAGE).set(JAVA_LONG, 0, 1L);
            try {
                // MAP_FIXED that refuses to clobber what the JVM might have mapped into the hole.
                Mman.mmap(address, PAGE, Mman.PROT_READ | Mman.PROT_WRITE,
                        Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0);
            } catch (LinuxException e) {
                assertEquals(Errno.EEXIST, e.errno());
                Mman.munmap(ballast, PAGE);
                continue;
            }
            try {
                Mman.segment(address, PAGE).set(JAVA_LONG, 0, 2L);
                long newFrame = Pagemap.pfn(Pagemap.read(address, 1)[0]);
                Transfer result = nic.write(region.localKey(), address, arena.allocate(8));
                // The kernel may hand the freed frame straight back: then the NIC's frame is the
                // new page, and the transfer is right to go ahead.
                assertEquals(newFrame != oldFrame ? Transfer.STALE : Transfer.OK, result);
                stale += result == Transfer.STALE ? 1 : 0;
            } finally {
                nic.deregister(region);
                Mman.munmap(address, PAGE);
                Mman.munmap(ballast, PAGE);
            }
        }
        System.out.printf("munmap+mmap: %d of %d attempts got a new frame%n", stale, attempts);
        assertTrue(stale > 0, "new memory at an old address was seen as stale at least once");
        assertEquals(stale, nic.staleTransfers());
    }

    @Test
    void shouldReportTransfersIntoUnmappedPagesAsStaleWithoutCrashing() {
        long address = Mman.mapAnonymous(2 * PAGE);
        MemoryRegion region = nic.register(address, 2 * PAGE, Access.ALL);
        MemoryRegion strictRegion = strictNic.register(address, 2 * PAGE, Access.ALL);
        Mman.munmap(address + PAGE, PAGE);
        try {
            MemorySegment buffer = arena.allocate(PAGE);
            assertEquals(Transfer.STALE, nic.write(region.localKey(), address + PAGE / 2, buffer));
            assertEquals(Transfer.STALE, nic.read(region.localKey(), address + PAGE, buffer));
            assertEquals(Transfer.OK, nic.read(region.localKey(), address, buffer));
            assertThrows(StaleTransferException.class, () -> strictNic.write(strictRegion.remoteKey(), address + PAGE, buffer));
            assertEquals(2, nic.staleTransfers());
            assertEquals(1, nic.transfers());
        } finally {
            Mman.munmap(address, PAGE);
        }
    }

    @Test
    void shouldSeeDroppedPagesAsStaleEvenWithoutFrameNumbers() {
        long address = Mman.mapAnonymous(PAGE);
        try {
            MemoryRegion region = nic.register(address, PAGE, Access.ALL);
            Madvise.madvise(address, PAGE, Madvise.MADV_DONTNEED);
            assertEquals(Transfer.STALE, nic.read(region.localKey(), address, arena.allocate(8)));
            assertFalse(Pagemap.isPresent(Pagemap.read(address, 1)[0]), "the read did not fault the page in");
        } finally {
            Mman.munmap(address, PAGE);
        }
    }

    @Test
    void shouldPrintTransferCosts() {
        long size = 1 << 20;
        long address = Mman.mapAnonymous(size);
        try {
            MemoryRegion region = nic.register(address, size, Access.ALL);
            MemorySegment small = arena.allocate(64);
            MemorySegment large = arena.allocate(size);
            for (int i = 0; i < 20_000; i++) {
                nic.read(region.localKey(), address + (i % 256) * PAGE, small);
            }
            long start = System.nanoTime();
            for (int i = 0; i < 20_000; i++) {
                nic.read(region.localKey(), address + (i % 256) * PAGE, small);
            }
            long smallNanos = (System.nanoTime() - start) / 20_000;
            start = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                nic.write(region.localKey(), address, large);
            }
            long largeNanos = (System.nanoTime() - start) / 100;
            System.out.printf("simulated NIC DMA: 64 B %d ns, 1 MiB %d us (%.1f GB/s)%n",
                    smallNanos, largeNanos / 1000, (double) size / largeNanos);
            assertEquals(0, nic.staleTransfers(), "no page of a live mapping went stale (compaction would)");
            assertEquals(40_100, nic.transfers());
        } finally {
            Mman.munmap(address, size);
        }
    }
}
