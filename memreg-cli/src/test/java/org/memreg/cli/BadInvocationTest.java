package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.memreg.numa.NodeSet;
import org.memreg.numa.SysfsTopology;
import org.memreg.testkit.Unprivileged;

/**
 * Usage errors as a newcomer makes them: each exits 2 before anything runs (nothing on stdout),
 * with a message that names the option and the value and says what is accepted, and no stack
 * trace.
 */
@Unprivileged
class BadInvocationTest {
    private static final String SELF = Long.toString(ProcessHandle.current().pid());
    /** The first node id past this machine's last node. */
    private static final int BEYOND = lastNode() + 1;

    @TempDir
    static Path dir;

    /** The arguments, then fragments the error must contain. */
    record Bad(List<String> args, List<String> says) {
        @Override
        public String toString() {
            return String.join(" ", args);
        }
    }

    private static Bad bad(String args, String... says) {
        return new Bad(List.of(args.split(" ", -1)), List.of(says));
    }

    private static int lastNode() {
        NodeSet nodes = SysfsTopology.read().nodeSet();
        return nodes.nth(nodes.size() - 1);
    }

    static Stream<Bad> invocations() {
        String plot = dir.resolve("p.png").toString();
        return Stream.of(
                bad("frobnicate", "Unmatched argument", "'frobnicate'"),
                bad("--bogus", "Unknown option: '--bogus'"),
                bad("info --bogus", "Unknown option: '--bogus'"),
                bad("info extra", "Unmatched argument", "'extra'"),
                bad("help bogus", "Unknown subcommand 'bogus'"),
                // pages
                bad("pages", "Missing required option: '--pid=PID'"),
                bad("pages --pid 99999999999", "'--pid'", "'99999999999' is not a process id", "from 1 to"),
                bad("pages --pid 0", "'--pid'", "'0' is not a process id"),
                bad("pages --pid -5", "'--pid'", "'-5' is not a process id"),
                bad("pages --pid 12x", "'--pid'", "'12x' is not a process id"),
                bad("pages --pid " + SELF + " --range 0-ffffffffffffffff", "bad --range \"0-ffffffffffffffff\"",
                        "END must be at most 0x"),
                bad("pages --pid " + SELF + " --range zz-10", "bad --range \"zz-10\"", "hexadecimal"),
                bad("pages --pid " + SELF + " --range 20-10", "bad --range \"20-10\"", "END must be above START"),
                bad("pages --pid " + SELF + " --range 10", "bad --range \"10\"", "START-END"),
                // migrate
                bad("migrate --pid 99999999999 --from 0 --to 0", "'--pid'", "'99999999999' is not a process id"),
                bad("migrate --pid " + SELF + " --from 0,1 --to 1,0", "'--to'", "\"1,0\" is not in ascending order"),
                bad("migrate --pid " + SELF + " --from 0 --to " + BEYOND + "-" + (BEYOND + 2),
                        "--to names nodes " + BEYOND + "-" + (BEYOND + 2) + " that do not exist"),
                bad("migrate --pid " + SELF + " --from " + BEYOND + " --to 0", "--from names node " + BEYOND + " that does not exist"),
                bad("migrate --pid " + SELF + " --from 3-1 --to 0", "'--from'", "reversed range in \"3-1\""),
                bad("migrate --pid " + SELF + " --from 64 --to 0", "'--from'", "node above 63"),
                bad("migrate --pid " + SELF + " --from  --to 0", "'--from'", "empty node list"),
                bad("migrate --pid " + SELF + " --from 0 --to 0 --simulated 4", "--simulated needs --dry-run"),
                bad("migrate --pid " + SELF + " --from 0 --to 0 --simulated 0 --dry-run", "--simulated must be 1..64"),
                bad("migrate --pid " + SELF + " --from 0", "Missing required option: '--to=NODES'"),
                // stat
                bad("stat --dir /etc/passwd", "--dir /etc/passwd: not a directory"),
                bad("stat --pid 99999999999", "'--pid'", "'99999999999' is not a process id"),
                bad("stat --count 0", "--count must be at least 1, got 0"),
                bad("stat --interval 0", "--interval must be at least 1 ms, got 0"),
                bad("stat --interval x", "'--interval'", "'x'"),
                // demo: checked before the run, not after it
                bad("demo --plot /proc/nope", "--plot /proc/nope: cannot write there"),
                bad("demo --plot /proc/nope/deeper/x.png", "--plot /proc/nope/deeper/x.png: cannot write there"),
                bad("demo --plot " + dir, "--plot " + dir + ": is a folder"),
                bad("demo --seconds NaN --plot " + plot, "--seconds NaN: expected a number of seconds above 0"),
                bad("demo --seconds Infinity --plot " + plot, "--seconds Infinity: expected", "at most 3600"),
                bad("demo --seconds -1 --plot " + plot, "--seconds -1.0: expected"),
                bad("demo --seconds 0 --plot " + plot, "--seconds 0.0: expected"),
                bad("demo --seconds soon --plot " + plot, "'--seconds'", "'soon'"),
                bad("demo --sizes 1t --plot " + plot, "--sizes 1 TiB with --buffers 32 needs 34 buffers of 1 TiB",
                        "more than --max-memory 4 GiB"),
                bad("demo --sizes 64k --buffers 1000000 --plot " + plot, "--sizes 64 KiB with --buffers 1000000"),
                bad("demo --sizes huge --plot " + plot, "'--sizes'", "size=huge is not a size"),
                bad("demo --sizes 0 --plot " + plot, "'--sizes'", "size must be positive: 0"),
                bad("demo --buffers 0 --plot " + plot, "--buffers 0: expected at least 1"),
                bad("demo --realloc-one-in -1 --plot " + plot, "--realloc-one-in -1: expected 0 (never) or more"),
                bad("demo --max-memory 0 --plot " + plot, "'--max-memory'", "size must be positive: 0"),
                // bench
                bad("bench --seconds NaN", "--seconds must be a positive number of seconds up to 3600: NaN"),
                bad("bench --only bogus", "'--only'", "bogus", "expected one of"),
                bad("bench --samples 0", "--samples must be positive: 0"),
                bad("bench --out /proc/nope", "--out /proc/nope: cannot write there"),
                bad("bench --max-memory 0", "'--max-memory'", "size must be positive: 0"));
    }

    @ParameterizedTest(name = "memreg {0}")
    @MethodSource("invocations")
    void shouldBeAUsageErrorThatSaysWhatIsAccepted(Bad bad) {
        MainTest.Result result = MainTest.run(bad.args().toArray(String[]::new));
        assertEquals(Main.USAGE, result.status(), bad + ": " + result.err() + result.out());
        for (String fragment : bad.says()) {
            assertTrue(result.err().contains(fragment), bad + ": should say \"" + fragment + "\": " + result.err());
        }
        assertTrue(result.err().contains("Usage: memreg"), bad + ": " + result.err());
        assertFalse(result.err().contains("Exception") || result.err().contains("\tat "), bad + ": " + result.err());
        assertEquals("", result.out(), bad + ": nothing ran");
    }

    @Test
    void theRealEntryPointShouldExitWithTheSameStatus() throws Exception {
        MainTest.Result result = MemregProcess.run("pages", "--pid", "99999999999");
        assertEquals(Main.USAGE, result.status(), result.err());
        assertTrue(result.err().contains("'99999999999' is not a process id"), result.err());
        assertEquals("", result.out());
    }
}
