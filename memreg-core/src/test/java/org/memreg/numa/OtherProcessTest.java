package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.memreg.linux.SysConf;

/**
 * Query and move another JVM's memory: move_pages on its range, migrate_pages on all of it. The
 * child writes its pages from whichever CPU it runs on; they are moved to this machine's last node
 * (node 0 here, where they already are; node 3 in the VM of bin/vm-test). One child serves every
 * test (a JVM takes some 10 s to start in that VM); that its data is intact is checked at the end.
 */
class OtherProcessTest {
    private static final long PAGE = SysConf.pageSize();
    private static ChildProcess child;
    private final SysfsTopology topology = SysfsTopology.read();

    @BeforeAll
    static void startChild() throws Exception {
        child = new ChildProcess();
    }

    @AfterAll
    static void finishChild() throws Exception {
        if (child != null) {
            assertEquals(0, child.finish(), "the child's data is intact after every test moved it");
        }
    }

    @Test
    void shouldQueryAndMoveARangeOfAnotherJvm() throws Exception {
        PagePlacement placement = topology.placement(child.pid());
        long length = NumaChild.PAGES * PAGE;
        NodeSummary summary = placement.query(child.address, length).summary();
        assertEquals(NumaChild.WRITTEN, summary.present(), summary.toString());
        assertTrue(summary.perNode().keySet().stream().allMatch(topology.nodeSet()::contains), summary.toString());
        assertEquals(NumaChild.READ, summary.zeroPage(), summary.toString());
        assertEquals(NumaChild.PAGES - NumaChild.WRITTEN - NumaChild.READ, summary.notPresent(), summary.toString());

        int last = topology.nodes().getLast().id();
        MigrationReport report = RangeMigrator.of(placement).moveTo(child.address, length, last);
        System.out.println("child's pages before " + summary + ", moved to node " + last + ":\n" + report.format());
        assertEquals(summary.present() - summary.onNode(last), report.moved(), report.format());
        assertEquals(summary.onNode(last), report.alreadyInPlace(), report.format());
        assertEquals(0, report.failed(), report.format());
        assertEquals(NumaChild.READ, report.zeroPage(), report.format());
        assertEquals(NumaChild.WRITTEN, placement.query(child.address, length).summary().onNode(last));
        assertThrows(NoSuchElementException.class,
                () -> RangeMigrator.of(placement).moveTo(child.address, length, last + 1));
    }

    @Test
    void shouldMigrateAWholeJvmToNodeZeroAndRefuseMissingNodes() throws Exception {
        ProcessMigrator.Result result = ProcessMigrator.migrate(topology, child.pid(), NodeSet.of(0), NodeSet.of(0));
        assertEquals(0, result.notMoved());
        assertTrue(result.before().present() > NumaChild.WRITTEN, "a JVM has far more pages: " + result.before());
        assertTrue(result.after().present() > NumaChild.WRITTEN, result.after().toString());
        assertEquals(List.of(), result.plan().moves(), "0 -> 0 moves nothing");

        int missing = topology.nodes().getLast().id() + 1;
        NoSuchElementException e = assertThrows(NoSuchElementException.class,
                () -> ProcessMigrator.migrate(topology, child.pid(), NodeSet.of(0), NodeSet.of(missing)));
        assertTrue(e.getMessage().contains("--to names node " + missing + " that does not exist on this machine"),
                e.getMessage());
    }

    @Test
    void shouldSayThereIsNoSuchProcess() {
        ProcessHandle dead = ProcessHandle.of(Integer.MAX_VALUE - 1).orElse(null);
        assertEquals(null, dead);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessPages.census(topology.placement(Integer.MAX_VALUE - 1)));
        assertTrue(e.getMessage().contains("no process"), e.getMessage());
    }
}
