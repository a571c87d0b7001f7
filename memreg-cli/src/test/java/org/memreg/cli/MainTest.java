package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class MainTest {
    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            int status = Main.run(args);
            return new Result(status, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void shouldPrintMachineFacts() {
        Result result = run("info");
        assertEquals(0, result.status(), result.err());
        assertTrue(result.out().contains("RLIMIT_MEMLOCK"), result.out());
        assertTrue(result.out().contains("page size"), result.out());
        for (String mode : new String[] {"auto", "hooks", "userfaultfd", "hooks+userfaultfd", "strict", "none"}) {
            assertTrue(result.out().lines().anyMatch(l -> l.strip().startsWith(mode + " ")), mode + ": " + result.out());
        }
        assertTrue(result.out().contains("auto               works: uses hooks+userfaultfd"), result.out());
    }

    @Test
    void shouldRejectBadFlagsWithUsageAndNoStackTrace() {
        Result result = run("info", "--no-such-flag");
        assertEquals(2, result.status());
        assertTrue(result.err().contains("Unknown option"), result.err());
        assertTrue(result.err().contains("Usage:"), result.err());
        assertFalse(result.err().contains("Exception"), result.err());
    }

    @Test
    void shouldRejectUnknownCommands() {
        Result result = run("frobnicate");
        assertEquals(2, result.status());
        assertTrue(result.err().contains("Unmatched argument"), result.err());
    }
}
