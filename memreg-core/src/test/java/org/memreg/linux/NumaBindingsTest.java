package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real move_pages, migrate_pages, mbind and affinity calls on this machine's nodes: one here, four
 * in the VM of bin/vm-test. A node that does not exist is the one after the highest online node.
 */
class NumaBindingsTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int MISSING = highestOnlineNode() + 1;
    private long address;

    private static int highestOnlineNode() {
        try {
            String online = String.join("", Files.readAllLines(Path.of("/sys/devices/system/node/online"))).strip();
            String last = online.substring(Math.max(online.lastIndexOf(','), online.lastIndexOf('-')) + 1);
            return Integer.parseInt(last);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @BeforeEach
    void map() {
        address = Mman.mapAnonymous(4 * PAGE);
    }

    @AfterEach
    void unmap() {
        Mman.munmap(address, 4 * PAGE);
    }

    private long[] pages() {
        return new long[] {address, address + PAGE, address + 2 * PAGE, address + 3 * PAGE};
    }

    @Test
    void shouldReportNodeNotPresentAndZeroPageDistinctly() {
        MemorySegment memory = Mman.segment(address, 4 * PAGE);
        memory.set(JAVA_BYTE, 0, (byte) 1);              // written: a real page
        byte unused = memory.get(JAVA_BYTE, 2 * PAGE);   // read only: the zero page
        int[] status = new int[4];
        assertEquals(0, MovePages.query(MovePages.SELF, pages(), status, 4));
        assertEquals(MemoryPolicy.nodeOf(address), status[0], "move_pages and get_mempolicy agree on the node");
        assertEquals(MovePages.ZERO_PAGE, status[2]);
        assertEquals("zero page or unmapped", MovePages.describe(status[2]));
        // A page never touched: -ENOENT on 6.18, -EFAULT (as the zero page) on 6.1. Either, said which.
        assertEquals(status[1], status[3]);
        assertTrue(status[1] == MovePages.NOT_PRESENT || status[1] == MovePages.ZERO_PAGE, MovePages.describe(status[1]));
        System.out.println("move_pages of a page never touched on Linux " + System.getProperty("os.version") + ": "
                + Errno.name(-status[1]) + (status[1] == MovePages.ZERO_PAGE ? " (as the zero page: an older kernel)" : ""));
        assertTrue(Pagemap.isPresent(Pagemap.read(address + 2 * PAGE, 1)[0]), "pagemap: the zero page is present");
        assertFalse(Pagemap.isPresent(Pagemap.read(address + PAGE, 1)[0]), "pagemap: an untouched page is not");
    }

    @Test
    void shouldMoveToNodeZeroAndRefuseAMissingNodeWithEnodev() {
        Mman.segment(address, 4 * PAGE).fill((byte) 7);
        int[] status = new int[4];
        long notMoved = MovePages.move(MovePages.SELF, pages(), new int[] {0, 0, 0, 0}, status, 4, MovePages.MPOL_MF_MOVE);
        assertEquals(0, notMoved);
        assertArrayEquals(new int[] {0, 0, 0, 0}, status);
        int[] missing = {MISSING, MISSING, MISSING, MISSING};
        long result = MovePages.move(MovePages.SELF, pages(), missing, status, 4, MovePages.MPOL_MF_MOVE);
        assertEquals(-Errno.ENODEV, result);
    }

    @Test
    void shouldMigrateOwnProcessToNodeZeroAndRefuseMissingNode() {
        BitSet zero = new BitSet();
        zero.set(0);
        BitSet absent = new BitSet();
        absent.set(MISSING);
        int pid = (int) ProcessHandle.current().pid();
        assertEquals(0, MigratePages.migrate(pid, zero, zero));
        long missing = MigratePages.migrate(pid, zero, absent);
        assertTrue(missing < 0, "migrate_pages to node " + MISSING + " must fail, got " + missing);
        System.out.println("migrate_pages to a missing node: " + Errno.name((int) -missing));
    }

    @Test
    void shouldBindToNodeZeroAndReadThePolicyBack() {
        BitSet zero = new BitSet();
        zero.set(0);
        MemoryPolicy.mbind(address, 4 * PAGE, MemoryPolicy.MPOL_BIND, zero, MemoryPolicy.MPOL_MF_MOVE);
        MemoryPolicy.Policy policy = MemoryPolicy.policyAt(address);
        assertEquals(MemoryPolicy.MPOL_BIND, policy.mode());
        assertEquals(zero, policy.nodes());
        assertEquals(0, MemoryPolicy.nodeOf(address));
        BitSet absent = new BitSet();
        absent.set(MISSING);
        LinuxException e = assertThrows(LinuxException.class,
                () -> MemoryPolicy.mbind(address, PAGE, MemoryPolicy.MPOL_BIND, absent, 0));
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
    }

    @Test
    void shouldPinTheCallingThreadAndRestoreIt() throws Exception {
        BitSet before = CpuAffinity.current();
        assertTrue(before.get(0), "CPU 0 allowed: " + before);
        BitSet[] seen = new BitSet[1];
        Thread thread = Thread.ofPlatform().start(() -> {
            BitSet only = new BitSet();
            only.set(before.nextSetBit(0));
            CpuAffinity.set(only);
            seen[0] = CpuAffinity.current();
        });
        thread.join();
        assertEquals(1, seen[0].cardinality(), seen[0].toString());
        assertEquals(before, CpuAffinity.current(), "other threads keep their affinity");
        BitSet none = new BitSet();
        none.set(1000);
        LinuxException e = assertThrows(LinuxException.class, () -> CpuAffinity.set(none));
        assertEquals(Errno.EINVAL, e.errno());
    }
}
