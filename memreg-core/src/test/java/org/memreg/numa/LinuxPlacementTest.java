package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MemoryPolicy;
import org.memreg.linux.Mman;
import org.memreg.linux.MovePages;
import org.memreg.linux.SysConf;
import org.memreg.testkit.ChildJvm;
import org.memreg.util.TestSeeds;

/**
 * Query, bind, first touch and moves by the real kernel, on this machine's node(s): one here, four
 * in the VM of bin/vm-test (pages written from node 0's CPUs, so that the node is known on both).
 */
class LinuxPlacementTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int PAGES = 32;
    private final SysfsTopology topology = SysfsTopology.read();
    private final PagePlacement placement = topology.placement();
    private final long address = Mman.mapAnonymous(PAGES * PAGE);
    private final MemorySegment memory = Mman.segment(address, PAGES * PAGE);

    @AfterEach
    void unmap() {
        Mman.munmap(address, PAGES * PAGE);
    }

    @Test
    void shouldReadTheRealTopology() {
        assertFalse(topology.simulated());
        NumaNode first = topology.nodes().getFirst();
        assertEquals(10, topology.distance(first.id(), first.id()));
        assertTrue(first.totalBytes() > 0 && first.freeBytes() <= first.totalBytes(), first.toString());
        int cpus = topology.nodes().stream().mapToInt(n -> n.cpus().size()).sum();
        assertTrue(cpus >= Runtime.getRuntime().availableProcessors(), "every CPU is on a node: " + topology.nodes());
        NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> topology.node(63));
        assertTrue(e.getMessage().contains("node 63 does not exist"), e.getMessage());
    }

    @Test
    void shouldCountWrittenUntouchedAndZeroPagesPerNode() throws Exception {
        placement.touchFrom(0, address, 20 * PAGE);
        for (int i = 20; i < 26; i++) {
            byte unused = memory.get(JAVA_BYTE, i * PAGE);
        }
        PageNodes nodes = placement.query(address + 100, PAGES * PAGE - 100); // unaligned start: same pages
        assertEquals(PAGES, nodes.pages());
        assertEquals(address, nodes.firstPage());
        NodeSummary summary = nodes.summary();
        assertEquals(20, summary.present(), summary.toString());
        assertEquals(6, summary.zeroPage(), summary.toString());
        assertEquals(6, summary.notPresent(), summary.toString());
        assertEquals(20, summary.onNode(0), summary.toString());
    }

    @Test
    void shouldFindPagesAlreadyOnNodeZeroAndMoveNothing() throws Exception {
        placement.touchFrom(0, address, PAGES * PAGE);
        MigrationReport report = RangeMigrator.of(placement).moveTo(address, PAGES * PAGE, 0);
        assertEquals(PAGES, report.alreadyInPlace(), report.format());
        assertEquals(0, report.moved() + report.failed(), report.format());
        // and the kernel agrees when asked to move them itself
        long[] pages = new long[PAGES];
        for (int i = 0; i < PAGES; i++) {
            pages[i] = address + i * PAGE;
        }
        int[] status = new int[PAGES];
        placement.move(pages, new int[PAGES], status, PAGES);
        for (int s : status) {
            assertEquals(0, s, MovePages.describe(s));
        }
    }

    @Test
    void shouldFailClearlyMovingToANodeThatDoesNotExist() throws Exception {
        memory.fill((byte) 5);
        int missing = topology.nodes().getLast().id() + 1;
        NoSuchElementException e = assertThrows(NoSuchElementException.class,
                () -> RangeMigrator.of(placement).moveTo(address, PAGES * PAGE, missing));
        assertTrue(e.getMessage().contains("node " + missing + " does not exist"), e.getMessage());
        LinuxException kernel = assertThrows(LinuxException.class,
                () -> placement.move(new long[] {address}, new int[] {missing}, new int[1], 1));
        assertEquals(Errno.ENODEV, kernel.errno(), kernel.getMessage());
        assertTrue(kernel.getMessage().contains("does not exist or is offline"), kernel.getMessage());
    }

    @Test
    void shouldBindThenFirstTouchOnTheBoundNode() throws Exception {
        placement.bind(address, PAGES * PAGE, NodeSet.of(0), false);
        assertEquals(MemoryPolicy.MPOL_BIND, MemoryPolicy.policyAt(address).mode());
        assertEquals(PAGES, placement.query(address, PAGES * PAGE).summary().notPresent(), "bind alone touches nothing");
        List<FirstTouch.Part> parts = FirstTouch.spread(placement, memory, 0, 0);
        assertEquals(2, parts.size());
        assertEquals(PAGES, placement.query(address, PAGES * PAGE).summary().onNode(0));
        assertThrows(NoSuchElementException.class, () -> placement.bind(address, PAGE, NodeSet.of(9), true));
    }

    /** A touch writes every page: into memory mapped read-only that killed the JVM (SIGSEGV). */
    @Test
    void shouldRefuseToFirstTouchAReadOnlySegment() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FirstTouch.spread(placement, memory.asReadOnly(), 0));
        assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        assertEquals(PAGES, placement.query(address, PAGES * PAGE).summary().notPresent(), "nothing touched");
    }

    /**
     * A touch by address of memory that is not there, or not writable, and a spread of a segment
     * whose arena is closed: each killed the JVM (a SIGSEGV in the touching thread).
     */
    @Test
    void shouldRefuseToTouchWhatIsNotMappedWritable() throws Exception {
        long gone = 0; // the null page, which nothing maps (a range just unmapped could be reused meanwhile)
        long readOnly = Mman.mmap(0L, 2 * PAGE, Mman.PROT_READ, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0L);
        long partly = Mman.mapAnonymous(3 * PAGE);
        Mman.mprotect(partly + 2 * PAGE, PAGE, Mman.PROT_NONE); // writable, then not: two areas
        try {
            for (long at : new long[] {gone, readOnly}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> placement.touchFrom(0, at, 2 * PAGE));
                assertTrue(e.getMessage().contains("not all of it is mapped writable"), e.getMessage());
            }
            assertThrows(IllegalArgumentException.class, () -> placement.touchFrom(0, partly, 3 * PAGE),
                    "the last page is not writable");
            placement.touchFrom(0, partly, 2 * PAGE);
        } finally {
            Mman.munmap(readOnly, 2 * PAGE);
            Mman.munmap(partly, 3 * PAGE);
        }
        MemorySegment closed;
        try (Arena arena = Arena.ofConfined()) {
            closed = arena.allocate(4 * PAGE, PAGE);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> FirstTouch.spread(placement, closed, 0));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        placement.touchFrom(0, address, PAGES * PAGE);
        assertEquals(0, placement.query(address, PAGES * PAGE).summary().notPresent(), "a mapped range is touched");
    }

    /**
     * First touch of memory that another thread unmaps meanwhile fails with
     * IllegalArgumentException, and the JVM lives: the touch faults the pages in with a system call
     * and does not access them. A touch by a write passed the look at /proc/self/maps and then died
     * on the unmapped page (SIGSEGV in the touching thread, 1 of 200 rounds of 64 MiB in a probe).
     * In a child JVM, 300 rounds of 16 MiB (the VM's emulated CPUs: {@code
     * -Dmemreg.test.unmapRaceRounds}), unmapped after 0-3 ms; the seed is printed.
     */
    @Test
    void touchingMemoryUnmappedMeanwhileShouldFailNotCrash() throws Exception {
        long seed = TestSeeds.seed("LinuxPlacementTest touch race");
        int rounds = Integer.getInteger("memreg.test.unmapRaceRounds", 300);
        ChildJvm child = ChildJvm.run(List.of(), TouchRaceChild.class, String.valueOf(rounds), String.valueOf(seed));
        assertEquals(rounds, child.value("rounds"));
        assertEquals(rounds, child.value("touched") + child.value("refused"));
    }
}
