package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;
import org.memreg.testkit.ChildJvm;
import org.memreg.util.TestSeeds;

/**
 * Multi-node placement and migration end to end, the same assertions on a simulated topology and
 * on the kernel's real nodes (the 4-node VM of bin/vm-test): first touch, binding, queries, and
 * {@link RangeMigrator} moves between overlapping node sets (shared/seeds/004). Each migration
 * prints the pages per node before and after.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TestTopology.class)
class TopologyMigrationTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int PAGES = 96;
    private static final long LENGTH = PAGES * PAGE;

    @Parameter
    TestTopology kind;

    private Topology topology;
    private PagePlacement placement;
    private long address;
    private MemorySegment memory;

    @BeforeEach
    void setUp() {
        topology = kind.create();
        placement = topology.placement();
        address = Mman.mapAnonymous(LENGTH);
        memory = Mman.segment(address, LENGTH);
    }

    @AfterEach
    void unmap() {
        if (address != 0) {
            Mman.munmap(address, LENGTH);
        }
    }

    private Map<Long, Integer> nodesByPage() {
        PageNodes nodes = placement.query(address, LENGTH);
        Map<Long, Integer> map = new HashMap<>();
        for (int i = 0; i < nodes.pages(); i++) {
            map.put(nodes.page(i), nodes.status(i));
        }
        return map;
    }

    private NodeSummary census() {
        return placement.query(address, LENGTH).summary();
    }

    @Test
    void shouldSayWhatItIs() {
        assertEquals(kind == TestTopology.SIMULATED, topology.simulated());
        assertTrue(topology.description().startsWith(kind == TestTopology.SIMULATED ? "simulated" : "sysfs"),
                topology.description());
        for (int node = 0; node < TestTopology.NODES; node++) {
            NumaNode n = topology.node(node);
            assertTrue(!n.cpus().isEmpty(), "every node has a CPU to touch from: " + n);
            assertEquals(10, n.distanceTo(node));
            for (int other = 0; other < TestTopology.NODES; other++) {
                assertTrue(other == node || n.distanceTo(other) > 10, "remote is farther: " + n);
            }
        }
        if (kind == TestTopology.SIMULATED) {
            assertThrows(UnsupportedOperationException.class,
                    () -> ProcessMigrator.migrate(topology, ProcessHandle.current().pid(), NodeSet.of(0), NodeSet.of(1)));
        }
    }

    @Test
    void shouldPlaceEachPartOnTheNodeThatTouchedItFirst() throws Exception {
        List<FirstTouch.Part> parts = FirstTouch.spread(placement, memory, 0, 1, 2, 3);
        Map<Long, Integer> nodes = nodesByPage();
        for (FirstTouch.Part part : parts) {
            for (long page = part.address(); page < part.address() + part.length(); page += PAGE) {
                assertEquals(part.node(), nodes.get(page), "first touch from node " + part.node());
            }
        }
        NodeSummary summary = census();
        System.out.println(kind + " first touch from nodes 0-3: " + summary);
        for (int node = 0; node < TestTopology.NODES; node++) {
            assertEquals(PAGES / TestTopology.NODES, summary.onNode(node), summary.toString());
        }
    }

    @Test
    void shouldCountWrittenUntouchedAndZeroPagesAlike() throws Exception {
        placement.touchFrom(2, address, 20 * PAGE);
        for (int i = 20; i < 26; i++) {
            byte unused = memory.get(JAVA_BYTE, i * PAGE);
        }
        NodeSummary summary = census();
        assertEquals(20, summary.onNode(2), summary.toString());
        assertEquals(20, summary.present(), summary.toString());
        assertEquals(6, summary.zeroPage(), "read only: " + summary);
        assertEquals(PAGES - 26, summary.notPresent(), "never touched, on every kernel: " + summary);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '>', value = {"0-1 > 1-2", "1-2 > 0-1", "0-2 > 1-3", "1-3 > 0-2", "0-3 > 1-3"})
    void shouldKeepRelativePlacementMigratingOverlappingNodeSets(String from, String to) throws Exception {
        long seed = TestSeeds.seed("TopologyMigrationTest");
        SplittableRandom random = new SplittableRandom(seed);
        int[] nodes = new int[12];
        for (int i = 0; i < nodes.length; i++) {
            nodes[i] = random.nextInt(TestTopology.NODES); // first touch from nodes 0-3, in random parts
        }
        List<FirstTouch.Part> parts = FirstTouch.spread(placement, memory, nodes);
        for (int i = 0; i < PAGES; i++) {
            memory.set(JAVA_LONG, i * PAGE, random.nextLong() | 1);
        }
        long[] data = memory.toArray(JAVA_LONG);
        Map<Long, Integer> before = nodesByPage();
        for (FirstTouch.Part part : parts) {
            assertEquals(part.node(), before.get(part.address()), "first touch placed the page");
        }
        NodeSummary censusBefore = census();
        long[] framesBefore = Pagemap.read(address, PAGES);

        MigrationPlan plan = MigrationPlanner.plan(NodeSet.parse(from), NodeSet.parse(to));
        MigrationReport report = RangeMigrator.of(placement).migrate(List.of(new RangeMigrator.Range(address, LENGTH)), plan);

        NodeSummary censusAfter = census();
        System.out.printf("%s %s -> %s (%s): pages per node before %s, after %s%n%s", kind, from, to, plan,
                censusBefore, censusAfter, report.format());
        Map<Long, Integer> after = nodesByPage();
        Map<Long, PageMoveSimulator.Fate> expected = PageMoveSimulator.apply(before, plan);
        long[] framesAfter = Pagemap.read(address, PAGES);
        long toMove = 0;
        for (int i = 0; i < PAGES; i++) {
            long page = address + i * PAGE;
            int target = plan.target(before.get(page));
            assertEquals(target, after.get(page), "page " + i + " keeps its relative placement");
            assertEquals(expected.get(page).node(), after.get(page), "as the planner's simulator says");
            if (target != before.get(page)) {
                toMove++;
                if (Pagemap.pfnsVisible()) {
                    assertNotEquals(Pagemap.pfn(framesBefore[i]), Pagemap.pfn(framesAfter[i]), "a moved page has a new frame");
                }
            }
        }
        assertEquals(toMove, report.moved(), "each page moved once, straight to its target: " + report.format());
        assertEquals(PAGES - toMove, report.alreadyInPlace(), report.format());
        assertEquals(0, report.failed(), report.format());
        for (int node = 0; node < TestTopology.NODES; node++) {
            long expectedCount = 0;
            for (int source = 0; source < TestTopology.NODES; source++) {
                expectedCount += plan.target(source) == node ? censusBefore.onNode(source) : 0;
            }
            assertEquals(expectedCount, censusAfter.onNode(node), "node " + node + ": " + censusAfter);
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
    void shouldPlaceFirstTouchOnTheNearestBoundNodeAndMoveExistingPagesOnBind() throws Exception {
        NodeSet bound = NodeSet.of(2, 3);
        placement.bind(address, LENGTH / 2, bound, false);
        assertEquals(PAGES, census().notPresent(), "bind alone touches nothing");
        placement.touchFrom(1, address, LENGTH);
        int nearest = bound.stream().map(n -> topology.distance(1, n)).min().orElseThrow();
        PageNodes nodes = placement.query(address, LENGTH);
        for (int i = 0; i < PAGES; i++) {
            int node = nodes.status(i);
            if (i < PAGES / 2) {
                assertTrue(bound.contains(node) && topology.distance(1, node) == nearest,
                        "touched from node 1, bound to 2-3: a nearest bound node, not " + node);
            } else {
                assertEquals(1, node, "unbound: the touching node");
            }
        }
        placement.bind(address + LENGTH / 2, LENGTH / 2, NodeSet.of(3), true);
        assertEquals(PAGES / 2, placement.query(address + LENGTH / 2, LENGTH / 2).summary().onNode(3), "moved by bind");
    }

    @Test
    void shouldRefuseNodesTheTopologyDoesNotHave() throws Exception {
        FirstTouch.spread(placement, memory, 0);
        int missing = topology.nodes().getLast().id() + 1;
        NoSuchElementException e = assertThrows(NoSuchElementException.class,
                () -> RangeMigrator.of(placement).remap(List.of(new RangeMigrator.Range(address, LENGTH)),
                        NodeSet.of(0), NodeSet.of(missing)));
        assertTrue(e.getMessage().contains("node " + missing + " that does not exist on this "
                + (topology.simulated() ? "simulated topology" : "machine")), e.getMessage());
        LinuxException kernelLike = assertThrows(LinuxException.class,
                () -> placement.move(new long[] {address}, new int[] {missing}, new int[1], 1));
        assertEquals(Errno.ENODEV, kernelLike.errno());
        assertEquals(PAGES, census().onNode(0), "nothing moved");
    }

    /**
     * Moving memory that another thread unmaps meanwhile fails or moves, and the JVM lives. The
     * simulated move copied the pages by loads and died on the unmapped page (SIGSEGV in
     * FrameRelocation, within 100 rounds); it copies with process_vm_readv now. In a child JVM, 300
     * rounds of 16 MiB (the VM: {@code -Dmemreg.test.unmapRaceRounds}), unmapped after 0-3 ms.
     */
    @Test
    void movingMemoryUnmappedMeanwhileShouldFailNotCrash() throws Exception {
        long seed = TestSeeds.seed("TopologyMigrationTest move race " + kind);
        int rounds = Integer.getInteger("memreg.test.unmapRaceRounds", 300);
        ChildJvm child = ChildJvm.run(List.of(), MoveRaceChild.class, String.valueOf(rounds), String.valueOf(seed),
                kind.name());
        assertEquals(rounds, child.value("rounds"));
        assertEquals(rounds, child.value("moved") + child.value("refused"));
    }
}
