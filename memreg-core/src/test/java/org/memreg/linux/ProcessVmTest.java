package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class ProcessVmTest {
    private static final long PAGE = SysConf.pageSize();

    @Test
    void shouldCopyOwnMemoryBothWays() {
        long address = Mman.mapAnonymous(2 * PAGE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mapped = Mman.segment(address, 2 * PAGE);
            mapped.set(JAVA_LONG, PAGE - 8, 0x1122334455667788L);
            MemorySegment buffer = arena.allocate(16);
            assertEquals(16, ProcessVm.readSelf(address + PAGE - 8, buffer));
            assertEquals(0x1122334455667788L, buffer.get(JAVA_LONG, 0));
            buffer.fill((byte) 9);
            assertEquals(16, ProcessVm.writeSelf(address + 8, buffer));
            assertEquals((byte) 9, mapped.get(JAVA_BYTE, 23));
            assertEquals((byte) 0, mapped.get(JAVA_BYTE, 24));
            assertEquals(16, ProcessVm.read(ProcessVm.selfPid(), address + 8, buffer.fill((byte) 0)));
            assertEquals((byte) 9, buffer.get(JAVA_BYTE, 15));
        } finally {
            Mman.munmap(address, 2 * PAGE);
        }
    }

    @Test
    void shouldGiveEfaultInsteadOfCrashingOnUnmappedMemory() {
        long address = Mman.mapAnonymous(2 * PAGE);
        Mman.munmap(address + PAGE, PAGE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(PAGE);
            assertEquals(-Errno.EFAULT, ProcessVm.readSelf(address + PAGE, buffer));
            assertEquals(-Errno.EFAULT, ProcessVm.writeSelf(address + PAGE, buffer));
            long partial = ProcessVm.readSelf(address + PAGE / 2, buffer);
            assertEquals(PAGE / 2, partial, "the copy stops at the fault");
        } finally {
            Mman.munmap(address, PAGE);
        }
    }

    /**
     * A copy longer than the kernel copies in one call (about 2 GiB; here pieces of a page, the same
     * loop) goes on piece by piece, and stops where a piece falls short or faults. Before, the
     * kernel's short count came back as if the copy had met a fault.
     */
    @Test
    void shouldCopyInPiecesAndStopAtTheFault() {
        long address = Mman.mapAnonymous(4 * PAGE);
        Mman.munmap(address + 3 * PAGE, PAGE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mapped = Mman.segment(address, 3 * PAGE);
            for (long i = 0; i < 3 * PAGE; i += 8) {
                mapped.set(JAVA_LONG, i, i);
            }
            MemorySegment buffer = arena.allocate(3 * PAGE);
            assertEquals(3 * PAGE, ProcessVm.readSelf(address, buffer, PAGE));
            assertEquals(3 * PAGE - 8, buffer.get(JAVA_LONG, 3 * PAGE - 8), "the last piece landed");
            MemorySegment across = arena.allocate(2 * PAGE);
            assertEquals(PAGE + PAGE / 2, ProcessVm.readSelf(address + 3 * PAGE / 2, across, PAGE),
                    "whole pieces, then a short one at the unmapped page");
            assertEquals(PAGE, ProcessVm.readSelf(address + 2 * PAGE, across, PAGE), "a piece that faults at once");
        } finally {
            Mman.munmap(address, 3 * PAGE);
        }
    }

    @Test
    void shouldFailForMissingProcessAndHeapSegments() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(8);
            assertEquals(-Errno.ESRCH, ProcessVm.read(Integer.MAX_VALUE, buffer.address(), buffer));
            assertThrows(IllegalArgumentException.class,
                    () -> ProcessVm.readSelf(buffer.address(), MemorySegment.ofArray(new byte[8])));
        }
    }

    @Test
    void shouldCopyAtMemoryBandwidth() {
        long size = 1 << 20;
        long address = Mman.mapAnonymous(size);
        try (Arena arena = Arena.ofConfined()) {
            Madvise.madvise(address, size, Madvise.MADV_POPULATE_WRITE);
            MemorySegment buffer = arena.allocate(size);
            MemorySegment small = arena.allocate(64);
            for (int i = 0; i < 50; i++) {
                assertEquals(size, ProcessVm.readSelf(address, buffer));
            }
            int rounds = 200;
            long start = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                ProcessVm.readSelf(address, buffer);
            }
            double gbps = (double) size * rounds / (System.nanoTime() - start);
            start = System.nanoTime();
            for (int i = 0; i < 100_000; i++) {
                ProcessVm.readSelf(address, small);
            }
            long smallNanos = (System.nanoTime() - start) / 100_000;
            System.out.printf("process_vm_readv self: 1 MiB %.1f GB/s, 64 B %d ns%n", gbps, smallNanos);
            assertEquals(64, ProcessVm.readSelf(address, small));
        } finally {
            Mman.munmap(address, size);
        }
    }
}
