package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the Promela model of the protocol ({@code src/test/promela/odp.pml}) with spin: an
 * exhaustive search for assertion violations and invalid end states (safety, no deadlock, every
 * fault answered once nothing can move), a non-progress-cycle search (no livelock), and two
 * mutants that must be caught. Skipped with the reason printed when spin or gcc is missing
 * ({@code bin/test} installs the Debian package {@code spin}).
 */
class OdpModelCheckTest {
    private static final Path MODEL = Path.of("src/test/promela/odp.pml");
    private static final Pattern ERRORS = Pattern.compile("errors: (\\d+)");
    private static String missing;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        for (String tool : List.of("spin", "gcc")) {
            if (!onPath(tool)) {
                missing = tool + " is not installed (Debian package " + tool + "; bin/test installs it as root)";
                System.out.println("OdpModelCheckTest skipped: " + missing);
            }
        }
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    /** Runs spin -a, gcc and pan; returns pan's output, and the error count in {@code errors[0]}. */
    private String check(List<String> defines, List<String> ccFlags, List<String> panFlags, int[] errors)
            throws IOException, InterruptedException {
        assumeTrue(missing == null, missing);
        Files.copy(MODEL, dir.resolve("odp.pml"));
        List<String> spin = new ArrayList<>(List.of("spin"));
        spin.addAll(defines);
        spin.addAll(List.of("-a", "odp.pml"));
        run(spin);
        List<String> gcc = new ArrayList<>(List.of("gcc", "-O2", "-w", "-DMEMLIM=1024", "-o", "pan"));
        gcc.addAll(ccFlags);
        gcc.add("pan.c");
        run(gcc);
        List<String> pan = new ArrayList<>(List.of("./pan", "-m100000"));
        pan.addAll(panFlags);
        String out = run(pan);
        Matcher m = ERRORS.matcher(out);
        assertTrue(m.find(), "pan printed no error count:\n" + out);
        errors[0] = Integer.parseInt(m.group(1));
        return out;
    }

    private String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), command + " timed out");
            // pan exits non-zero when it found errors; the callers judge the output
            if (!command.get(0).equals("./pan")) {
                assertEquals(0, p.exitValue(), command + " failed:\n" + out);
            }
            return out;
        } finally {
            p.destroyForcibly();
        }
    }

    private static void assertQuietStateReached(String out) {
        // the quiet-state asserts sit on the owner's timeout branch: if pan never reached them, the
        // deadlock check would be vacuous
        int owner = out.indexOf("unreached in proctype Owner");
        int peer = out.indexOf("unreached in proctype Peer");
        assertTrue(owner >= 0 && peer > owner, out);
        assertFalse(out.substring(owner, peer).contains("assert"), "quiet-state asserts never reached:\n" + out);
    }

    @Test
    void shouldFindNoViolationOnePage() throws Exception {
        int[] errors = new int[1];
        String out = check(List.of(), List.of(), List.of(), errors);
        System.out.println(out.lines().filter(l -> l.contains("states, stored") || l.contains("errors:"))
                .reduce("odp.pml 1 page: ", (a, b) -> a + b.trim() + "; "));
        assertEquals(0, errors[0], out);
        assertQuietStateReached(out);
    }

    @Test
    void shouldFindNoViolationTwoPages() throws Exception {
        int[] errors = new int[1];
        String out = check(List.of("-DNPAGES=2", "-DMAXEPOCH=2", "-DMAXACCESS=3"), List.of("-DCOLLAPSE"), List.of(),
                errors);
        System.out.println(out.lines().filter(l -> l.contains("states, stored") || l.contains("errors:"))
                .reduce("odp.pml 2 pages: ", (a, b) -> a + b.trim() + "; "));
        assertEquals(0, errors[0], out);
        assertQuietStateReached(out);
    }

    @Test
    void shouldFindNoNonProgressCycle() throws Exception {
        int[] errors = new int[1];
        String out = check(List.of(), List.of("-DNP"), List.of("-l"), errors);
        assertTrue(out.contains("non-progress cycles \t+"), out);
        assertEquals(0, errors[0], out);
    }

    @Test
    void shouldCatchAnEarlyAckAndADroppedFault() throws Exception {
        int[] errors = new int[1];
        String early = check(List.of("-DACK_EARLY"), List.of(), List.of(), errors);
        assertEquals(1, errors[0], early);
        assertTrue(early.contains("assertion violated ((ostate["), early);
        Files.list(dir).forEach(f -> f.toFile().delete());
        String dropped = check(List.of("-DDROP_FAULT"), List.of(), List.of(), errors);
        assertEquals(1, errors[0], dropped);
        assertTrue(dropped.contains("assertion violated (crashed[q]"), Arrays.toString(errors) + dropped);
    }
}
