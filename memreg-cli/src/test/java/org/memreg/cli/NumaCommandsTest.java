package org.memreg.cli;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.numa.NodeSet;
import org.memreg.numa.SysfsTopology;
import org.memreg.testkit.Unprivileged;

/** {@code memreg pages} and {@code memreg migrate} against this JVM, on the real node and a simulated topology. */
@Unprivileged
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
        long gone = deadPid();
        MainTest.Result result = MainTest.run("pages", "--pid", Long.toString(gone));
        assertEquals(Main.FAILED, result.status());
        assertEquals("memreg: no process with pid " + gone + System.lineSeparator(), result.err());
    }

    @Test
    void anotherUsersProcessShouldSayPermissionDenied() {
        // access(2) says /proc/1/maps (mode 0444) is readable; only reading it asks the kernel's ptrace check.
        assumeTrue(!canRead(Path.of("/proc/1/maps")),
                "needs a process this user may not read (pid 1, as anyone but root: the unprivileged run)");
        MainTest.Result result = MainTest.run("pages", "--pid", "1");
        assertEquals(Main.FAILED, result.status(), result.out());
        assertTrue(result.err().startsWith("memreg: cannot read /proc/1/maps: permission denied: process 1 runs as user "),
                result.err());
        assertTrue(result.err().contains("needs CAP_SYS_PTRACE"), result.err());
        assertEquals("", result.out());
    }

    private static boolean canRead(Path file) {
        try {
            Files.readAllBytes(file);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void shouldCountUnmappedPagesApartFromTheZeroPage() {
        long address = Mman.mapAnonymous(10 * PAGE);
        try {
            Mman.munmap(address + 4 * PAGE, 3 * PAGE); // a hole of 3 pages
            MemorySegment memory = Mman.segment(address, 10 * PAGE);
            for (long page : new long[] {0, 1, 7}) {
                memory.set(JAVA_BYTE, page * PAGE, (byte) 1); // present
            }
            assertEquals(0, memory.get(JAVA_BYTE, 2 * PAGE), "read, never written: the zero page");
            MainTest.Result result = MainTest.run("pages", "--pid", Long.toString(SELF),
                    "--range", String.format("%x-%x", address, address + 10 * PAGE));
            assertEquals(0, result.status(), result.err());
            assertEquals("3", row(result.out(), "present\\s+(\\d+)\\s+(\\d+)", 1), result.out());
            assertEquals("1", row(result.out(), "zero page\\s+(\\d+)", 1), result.out());
            assertEquals("3", row(result.out(), "unmapped\\s+(\\d+)", 1), result.out());
            assertEquals("3", row(result.out(), "not present\\s+(\\d+)", 1), result.out()); // pages 3, 8, 9
        } finally {
            Mman.munmap(address, 4 * PAGE);
            Mman.munmap(address + 7 * PAGE, 3 * PAGE);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // querying every hole page by page would take hours
    void aRangeOfAllUserSpaceShouldCountWithoutQueryingTheHoles() {
        MainTest.Result result = MainTest.run("pages", "--pid", Long.toString(SELF),
                "--range", String.format("0-%x", PagesCommand.userAddressTop()));
        assertEquals(0, result.status(), result.err());
        long unmapped = Long.parseLong(row(result.out(), "unmapped\\s+(\\d+)", 1));
        assertTrue(unmapped > (PagesCommand.userAddressTop() / PAGE) * 9 / 10, "nearly all of it: " + result.out());
    }

    private static String row(String out, String regex, int group) {
        Matcher m = Pattern.compile("(?m)^" + regex + "$").matcher(out);
        assertTrue(m.find(), regex + " in " + out);
        return m.group(group);
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
    void shouldRefuseNodesThisMachineDoesNotHaveBeforeShowingAPlan() {
        NodeSet nodes = SysfsTopology.read().nodeSet();
        int beyond = nodes.nth(nodes.size() - 1) + 1; // nodes past the last one, whatever the machine has
        MainTest.Result result = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", nodes.nth(0) + "",
                "--to", beyond + "-" + (beyond + 2));
        assertUsageError(result, "--to names nodes " + beyond + "-" + (beyond + 2)
                + " that do not exist on this machine (nodes: " + nodes + ")");
        assertTrue(result.err().contains("--dry-run --simulated N"), "says how to plan anyway: " + result.err());
        assertEquals("", result.out(), "no plan before the refusal");
    }

    @Test
    void aDryRunShouldCheckThePid() {
        long gone = deadPid();
        MainTest.Result result = MainTest.run("migrate", "--pid", Long.toString(gone), "--from", "0", "--to", "0",
                "--dry-run");
        assertEquals(Main.FAILED, result.status(), result.out());
        assertEquals("memreg: no process with pid " + gone + System.lineSeparator(), result.err());
        assertEquals("", result.out(), "no plan for a process that does not exist");
    }

    @Test
    void aNodeListOutOfAscendingOrderShouldBeRefusedWithTheReason() {
        MainTest.Result swap = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0,1", "--to", "1,0",
                "--dry-run", "--simulated", "2");
        assertUsageError(swap, "Invalid value for option '--to': \"1,0\" is not in ascending order");
        assertTrue(swap.err().contains("Node lists are sets"), swap.err());
        assertTrue(swap.err().contains("go through a spare node"), swap.err());
        assertEquals("", swap.out());
        assertUsageError(MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "2,0-1", "--to", "3-5",
                "--dry-run", "--simulated", "6"), "Invalid value for option '--from': \"2,0-1\" is not in ascending order");
        assertUsageError(MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0,0", "--to", "1",
                "--dry-run", "--simulated", "2"), "\"0,0\" is not in ascending order");
        MainTest.Result ascending = MainTest.run("migrate", "--pid", Long.toString(SELF), "--from", "0,2-3", "--to",
                "1,4-5", "--dry-run", "--simulated", "6");
        assertEquals(0, ascending.status(), ascending.err());
        assertTrue(ascending.out().contains("remap  0->1 2->4 3->5"), ascending.out());
    }

    /** A pid no process has now (the highest pid_max allows, or below it). */
    static long deadPid() {
        for (long pid = PidConverter.pidMax(); pid > 1; pid--) {
            if (ProcessHandle.of(pid).isEmpty()) {
                return pid;
            }
        }
        throw new AssertionError("every pid is in use");
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
