package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.memreg.linux.SysConf;
import org.memreg.numa.NodeSummary;
import org.memreg.numa.PagePlacement;
import org.memreg.numa.SysfsTopology;

/**
 * {@code memreg pages} and {@code memreg migrate} on a live process whose pages sit on four real
 * NUMA nodes (the VM of bin/vm-test; skipped, saying why, on a machine with fewer nodes, and failing
 * there when {@code -Dmemreg.test.realNumaNodes=4} says they must be present). The child
 * ({@link SpreadChild}) first-touches part {@code i} of its buffer from node {@code i}; the test
 * migrates the whole process 0-1 -> 2-3, then across overlapping sets 2-3 -> 1-2 (the kernel must
 * empty node 2 before filling it, or node 0's pages would move twice), and checks every part's
 * node and the per-node counts that {@code memreg pages} prints, before and after.
 */
class LiveMigrationTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int PART = SpreadChild.PART_PAGES;

    @Test
    void shouldCountAndMigrateALiveProcessBetweenRealNodes() throws Exception {
        SysfsTopology topology = SysfsTopology.read();
        requireFourNodes(topology);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), SpreadChild.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream())).readLine();
            assertTrue(line != null && line.startsWith("address="), "child printed " + line);
            long address = Long.parseUnsignedLong(line.substring(8), 16);
            long end = address + SpreadChild.PARTS * PART * PAGE;
            String pid = Long.toString(child.pid());
            String range = String.format("%x-%x", address, end);
            PagePlacement placement = topology.placement((int) child.pid());

            assertEquals(Map.of(0, (long) PART, 1, (long) PART, 2, (long) PART, 3, (long) PART),
                    present(run("pages", "--pid", pid, "--range", range)), "first touch from nodes 0-3");
            assertParts(placement, address, 0, 1, 2, 3);

            MainTest.Result migrated = run("migrate", "--pid", pid, "--from", "0-1", "--to", "2-3");
            assertTrue(migrated.out().contains("remap  0->2 1->3"), migrated.out());
            assertEquals(Map.of(2, 2L * PART, 3, 2L * PART), present(run("pages", "--pid", pid, "--range", range)));
            assertParts(placement, address, 2, 3, 2, 3);
            assertNodesEmptied(migrated.out(), 0, 1);

            MainTest.Result overlapping = run("migrate", "--pid", pid, "--from", "2-3", "--to", "1-2");
            assertTrue(overlapping.out().contains("moves  2->1, 3->2"), "node 2 emptied first: " + overlapping.out());
            assertEquals(Map.of(1, 2L * PART, 2, 2L * PART), present(run("pages", "--pid", pid, "--range", range)));
            assertParts(placement, address, 1, 2, 1, 2); // node 0's pages moved once: 0 -> 2 -> 1, never on to 2 again
            assertNodesEmptied(overlapping.out(), 3);
        } finally {
            child.getOutputStream().close();
            if (!child.waitFor(120, TimeUnit.SECONDS)) {
                child.destroyForcibly();
                fail("the child did not exit");
            }
        }
        assertEquals(0, child.exitValue(), "the child's data survived both migrations");
    }

    private static void requireFourNodes(SysfsTopology topology) {
        long usable = topology.nodes().stream().filter(n -> n.id() < 4 && !n.cpus().isEmpty()).count();
        if (usable < 4) {
            String why = "needs real NUMA nodes 0-3 with a CPU each; this machine has nodes " + topology.nodeSet()
                    + " (bin/test runs this in a 4-node VM, bin/vm-test)";
            if (Integer.getInteger("memreg.test.realNumaNodes", 0) >= 4) {
                fail(why + ", yet memreg.test.realNumaNodes says they must be here");
            }
            abort(why);
        }
    }

    private static MainTest.Result run(String... args) {
        MainTest.Result result = MainTest.run(args);
        System.out.println("$ memreg " + String.join(" ", args) + "\n" + result.out() + result.err());
        assertEquals(0, result.status(), result.err());
        return result;
    }

    /** Node to present pages, from the {@code present} row of {@code memreg pages}. */
    private static Map<Integer, Long> present(MainTest.Result result) {
        List<String> lines = result.out().lines().toList();
        List<String> columns = columns(lines);
        String[] row = lines.stream().filter(l -> l.startsWith("present ")).findFirst().orElseThrow().split("\\s+");
        assertEquals(columns.size() + 2, row.length, String.join(" ", row)); // name, nodes, total
        Map<Integer, Long> counts = new TreeMap<>();
        for (int i = 0; i < columns.size(); i++) {
            if (Long.parseLong(row[i + 1]) != 0) {
                counts.put(Integer.parseInt(columns.get(i)), Long.parseLong(row[i + 1]));
            }
        }
        return counts;
    }

    /** The node ids of a NodeTable's header line, in column order. */
    private static List<String> columns(List<String> lines) {
        String header = lines.stream().filter(l -> l.startsWith("pages (")).findFirst().orElseThrow();
        List<String> columns = new ArrayList<>();
        Matcher m = Pattern.compile("Node (\\d+)").matcher(header);
        while (m.find()) {
            columns.add(m.group(1));
        }
        return columns;
    }

    /** Part {@code i} of the child's buffer sits wholly on node {@code nodes[i]}. */
    private static void assertParts(PagePlacement placement, long address, int... nodes) {
        for (int part = 0; part < nodes.length; part++) {
            NodeSummary summary = placement.query(address + part * PART * PAGE, PART * PAGE).summary();
            assertEquals(PART, summary.onNode(nodes[part]), "part " + part + ": " + summary);
        }
    }

    /** In migrate's before/after table, the nodes given had pages before and have none after. */
    private static void assertNodesEmptied(String out, int... nodes) {
        List<String> lines = out.lines().toList();
        List<String> columns = columns(lines);
        String[] before = lines.stream().filter(l -> l.startsWith("before ")).findFirst().orElseThrow().split("\\s+");
        String[] after = lines.stream().filter(l -> l.startsWith("after ")).findFirst().orElseThrow().split("\\s+");
        for (int node : nodes) {
            int column = columns.indexOf(Integer.toString(node)) + 1;
            assertTrue(column > 0 && Long.parseLong(before[column]) > 0, "node " + node + " had pages: " + out);
            assertEquals(0, Long.parseLong(after[column]), "node " + node + " emptied: " + out);
        }
    }
}
