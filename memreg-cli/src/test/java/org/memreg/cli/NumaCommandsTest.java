package org.memreg.cli;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/** {@code memreg pages} and {@code memreg migrate} against this JVM, on the real node and a simulated topology. */
class NumaCommandsTest {
    private static final long SELF = ProcessHandle.current().pid();
    private static final long PAGE = SysConf.pageSize();

    private static void assertUsageError(MainTest.Result result, String message) {
        assertEquals(2, result.status(), result.err());
        assertTrue(result.err().contains(message), result.err());
        assertTrue(result.err().contains("Usage:"), result.err());
        assertFalse(result.err().contains("Exception"), result.err());
        assertFalse(result.err().contains("\tat "), result.err());
    }

    @Test
    void shouldCountPagesOfARangePerNode() {
        long address = Mman.mapAnonymous(10 * PAGE);
        try {
            for (int i = 0; i < 7; i++) {
                Mman.segment(address, 10 * PAGE).set(JAVA_BYTE, i * PAGE, (byte) 1);
            }
            MainTest.Result result = MainTest.run("pages", "--pid", Long.toString(SELF),
                    "--range", String.format("0x%x-%x", address, address + 10 * PAGE));
            assertEquals(0, result.status(), result.err());
            assertTrue(result.out().contains("Node 0"), result.out());
            Matcher present = Pattern.compile("(?m)^present\\s+(\\d+)\\s+(\\d+)$").matcher(result.out());
            assertTrue(present.find(), result.out());
            assertEquals("7", present.group(1), result.out());
            Matcher notPresent = Pattern.compile("(?m)^not present\\s+(\\d+)$").matcher(result.out());
            assertTrue(notPresent.find(), result.out());
            assertEquals("3", notPresent.group(1), result.out());
        } finally {
            Mman.munmap(address, 10 * PAGE);
        }
    }

    @Test
    void shouldCountEveryMappingOfAProcess() {
        MainTest.Result result = MainTest.run("pages", "--pid", Long.toString(SELF));
        assertEquals(0, result.status(), result.err());
        assertTrue(result.out().matches("(?s)pid \\d+, \\d+ mappings, nodes 0.*"), result.out());
        Matcher present = Pattern.compile("(?m)^present\\s+(\\d+)\\s+(\\d+)$").matcher(result.out());
        assertTrue(present.find() && Long.parseLong(present.group(2)) > 1000, "a JVM has thousands of pages: " + result.out());
    }

    @Test
    void shouldRejectBadPagesArguments() {
        assertUsageError(MainTest.run("pages"), "Missing required option: '--pid=PID'");
        assertUsageError(MainTest.run("pages", "--pid", "1", "--range", "zz-10"), "bad --range \"zz-10\"");
        assertUsageError(MainTest.run("pages", "--pid", "1", "--range", "20-10"), "END must be above START");
        MainTest.Result gone = MainTest.run("pages", "--pid", Integer.toString(Integer.MAX_VALUE - 1));
        assertEquals(1, gone.status());
        assertTrue(gone.err().startsWith("memreg: no process with pid"), gone.err());
    }

    @Test
    void shouldMigrateThisJvmToNodeZeroAndPrintPlanAndResult() {
        MainTest.Result result = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0", "--to", "0");
        assertEquals(0, result.status(), result.err() + result.out());
        assertTrue(result.out().contains("plan: pid " + SELF + ", nodes 0 -> 0"), result.out());
        assertTrue(result.out().contains("moves  none"), result.out());
        assertTrue(result.out().contains("0 page(s) could not be moved"), result.out());
        assertTrue(result.out().matches("(?s).*\nbefore\\s+\\d+\\s+\\d+\n.*\nafter\\s+\\d+\\s+\\d+\n.*"), result.out());
    }

    @Test
    void shouldFailClearlyForNodesThisMachineDoesNotHave() {
        MainTest.Result result = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0-3", "--to", "2-5");
        assertEquals(1, result.status(), result.out());
        String moves = org.memreg.numa.MigrationPlanner.plan(org.memreg.numa.NodeSet.parse("0-3"),
                org.memreg.numa.NodeSet.parse("2-5")).moves().stream().map(Object::toString)
                .collect(java.util.stream.Collectors.joining(", "));
        assertTrue(result.out().contains("moves  " + moves), "the plan comes first: " + result.out());
        assertTrue(result.err().contains("memreg: --from names nodes 1-3 that do not exist on this machine (nodes: 0)"),
                result.err());
        assertFalse(result.err().contains("Exception"), result.err());
        assertFalse(result.out().contains("before"), "nothing ran: " + result.out());
    }

    @Test
    void shouldPlanOnASimulatedTopologyInADryRun() {
        MainTest.Result result = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0-3", "--to", "2-5",
                "--dry-run", "--simulated", "6");
        assertEquals(0, result.status(), result.err());
        assertTrue(result.out().contains("on simulated: 6 nodes"), result.out());
        assertTrue(result.out().contains("remap  0->2 1->3 2->4 3->5"), result.out());
        assertTrue(result.out().contains("dry run: nothing moved"), result.out());
    }

    @Test
    void shouldRejectBadMigrateArguments() {
        String pid = Long.toString(SELF);
        assertUsageError(MainTest.run("migrate", "--pid", pid, "--from", "0"), "Missing required option: '--to=NODES'");
        assertUsageError(MainTest.run("migrate", "--pid", pid, "--from", "3-1", "--to", "0"), "reversed range");
        assertUsageError(MainTest.run("migrate", "--pid", pid, "--from", "", "--to", "0"), "empty node list");
        assertUsageError(MainTest.run("migrate", "--pid", pid, "--from", "0", "--to", "0", "--simulated", "4"),
                "--simulated needs --dry-run");
        assertUsageError(MainTest.run("migrate", "--pid", pid, "--from", "0", "--to", "0", "--bogus"), "Unknown option");
    }
}
