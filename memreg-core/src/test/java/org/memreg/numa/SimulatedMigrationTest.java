package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;

/** Multi-node placement and migration end to end on a simulated topology (this machine has one node). */
class SimulatedMigrationTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int PAGES = 96;
    private static final long LENGTH = PAGES * PAGE;
    private final SimulatedTopology topology = SimulatedTopology.of(6);
    private final SimulatedPagePlacement placement = topology.placement();
    private final long address = Mman.mapAnonymous(LENGTH);
    private final MemorySegment memory = Mman.segment(address, LENGTH);

    @AfterEach
    void unmap() {
        Mman.munmap(address, LENGTH);
    }

    private Map<Long, Integer> nodesByPage() {
        PageNodes nodes = placement.query(address, LENGTH);
        Map<Long, Integer> map = new HashMap<>();
        for (int i = 0; i < nodes.pages(); i++) {
            map.put(nodes.page(i), nodes.status(i));
        }
        return map;
    }

    @Test
    void shouldDescribeItselfAsSimulated() {
        assertTrue(topology.simulated());
        assertTrue(topology.description().startsWith("simulated"), topology.description());
        assertEquals(NodeSet.parse("0-5"), topology.nodeSet());
        assertEquals(SimulatedTopology.REMOTE_DISTANCE, topology.distance(0, 5));
        topology.nodes().forEach(n -> assertTrue(!n.cpus().isEmpty(), "every node has a CPU to touch from: " + n));
    }

    @Test
    void shouldKeepRelativePlacementMigratingOverlappingNodeSets() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        int[] nodes = new int[12];
        for (int i = 0; i < nodes.length; i++) {
            nodes[i] = random.nextInt(4); // first touch from nodes 0-3, in random parts
        }
        List<FirstTouch.Part> parts = FirstTouch.spread(placement, memory, nodes);
        for (int i = 0; i < PAGES; i++) {
            memory.set(JAVA_LONG, i * PAGE, random.nextLong() | 1);
        }
        long[] data = memory.toArray(JAVA_LONG);
        Map<Long, Integer> before = nodesByPage();
        for (FirstTouch.Part part : parts) {
            for (long page = part.address(); page < part.address() + part.length(); page += PAGE) {
                assertEquals(part.node(), before.get(page), "first touch placed the page");
            }
        }
        long[] framesBefore = Pagemap.read(address, PAGES);

        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse("0-3"), NodeSet.parse("2-5"));
        MigrationReport report = RangeMigrator.of(placement)
                .migrate(List.of(new RangeMigrator.Range(address, LENGTH)), plan);

        Map<Long, Integer> after = nodesByPage();
        Map<Long, PageMoveSimulator.Fate> expected = PageMoveSimulator.apply(before, plan);
        long[] framesAfter = Pagemap.read(address, PAGES);
        for (int i = 0; i < PAGES; i++) {
            long page = address + i * PAGE;
            assertEquals(plan.target(before.get(page)), after.get(page), "page " + i + " keeps its relative placement");
            assertEquals(expected.get(page).node(), after.get(page), "as the planner's simulator says");
            if (Pagemap.pfnsVisible()) {
                assertNotEquals(Pagemap.pfn(framesBefore[i]), Pagemap.pfn(framesAfter[i]), "a moved page has a new frame");
            }
        }
        assertEquals(PAGES, report.moved(), report.format());
        for (int node = 0; node < 4; node++) {
            int n = node;
            long count = before.values().stream().filter(v -> v == n).count();
            MigrationReport.NodeOutcome outcome = report.node(node);
            assertEquals(count, outcome == null ? 0 : outcome.moved(), report.format());
            if (outcome != null) {
                assertEquals(node + 2, outcome.target());
            }
        }
        assertArrayEquals(data, memory.toArray(JAVA_LONG), "every page kept its contents");
    }

    @Test
    void shouldRealizeARotationThatWholeNodeMovesCannot() throws Exception {
        FirstTouch.spread(placement, memory, 0, 1, 2);
        Map<Long, Integer> before = nodesByPage();
        MigrationPlan rotation = MigrationPlanner.plan(Map.of(0, 1, 1, 2, 2, 0));
        assertTrue(rotation.cycleBreaks() > 0, rotation.toString());
        MigrationReport report = RangeMigrator.of(placement)
                .migrate(List.of(new RangeMigrator.Range(address, LENGTH)), rotation);
        Map<Long, Integer> after = nodesByPage();
        before.forEach((page, node) -> assertEquals(rotation.target(node), after.get(page)));
        assertEquals(PAGES, report.moved(), "each page moved once, straight to its target");
    }

    @Test
    void shouldPlaceFirstTouchOnTheBoundNodesAndMoveExistingPagesOnBind() throws Exception {
        placement.bind(address, LENGTH / 2, NodeSet.of(3, 4), false);
        FirstTouch.spread(placement, memory, 1, 4);
        NodeSummary summary = placement.query(address, LENGTH).summary();
        assertEquals(PAGES / 2, summary.onNode(3), "touched from node 1, bound to 3-4: the first bound node");
        assertEquals(PAGES / 2, summary.onNode(4), summary.toString());
        placement.bind(address + LENGTH / 2, LENGTH / 2, NodeSet.of(5), true);
        assertEquals(PAGES / 2, placement.query(address, LENGTH).summary().onNode(5), "moved by bind");
    }

    @Test
    void shouldRefuseNodesTheSimulationDoesNotHave() throws Exception {
        FirstTouch.spread(placement, memory, 0);
        NoSuchElementException e = assertThrows(NoSuchElementException.class,
                () -> RangeMigrator.of(placement).remap(List.of(new RangeMigrator.Range(address, LENGTH)),
                        NodeSet.of(0), NodeSet.of(7)));
        assertTrue(e.getMessage().contains("node 7 that does not exist on this simulated topology"), e.getMessage());
        LinuxException kernelLike = assertThrows(LinuxException.class,
                () -> placement.move(new long[] {address}, new int[] {6}, new int[1], 1));
        assertEquals(Errno.ENODEV, kernelLike.errno());
        assertThrows(UnsupportedOperationException.class,
                () -> ProcessMigrator.migrate(topology, ProcessHandle.current().pid(), NodeSet.of(0), NodeSet.of(1)));
    }
}
