package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.memreg.testkit.Unprivileged;
import picocli.CommandLine;

/** Help and version through the real entry point: every command takes {@code -h/--help}. */
@Unprivileged
class HelpTest {
    private static List<String> commands() {
        return List.copyOf(new CommandLine(new Main()).getSubcommands().keySet());
    }

    @Test
    void everyCommandShouldTakeHelp() throws Exception {
        assertTrue(commands().containsAll(List.of("bench", "demo", "info", "migrate", "pages", "stat", "help")),
                commands().toString());
        for (String command : commands()) {
            MainTest.Result process = MemregProcess.run(command, "--help");
            assertEquals(0, process.status(), command + " --help: " + process.err());
            assertTrue(process.out().contains("Usage: memreg " + command + " "), command + ": " + process.out());
            assertEquals("", process.err(), command + " --help");
            MainTest.Result inProcess = MainTest.run(command, "-h");
            assertEquals(0, inProcess.status(), command + " -h: " + inProcess.err());
            assertEquals(process.out(), inProcess.out(), command + ": -h and --help print the same");
        }
    }

    @Test
    void theTopCommandShouldTakeHelpAndVersion() throws Exception {
        for (String flag : List.of("-h", "--help")) {
            MainTest.Result help = MemregProcess.run(flag);
            assertEquals(0, help.status(), help.err());
            assertTrue(help.out().startsWith("Usage: memreg [-hV] [COMMAND]"), help.out());
            assertTrue(help.out().contains("Exit status:"), "the help lists the exit codes: " + help.out());
        }
        for (String flag : List.of("-V", "--version")) {
            MainTest.Result version = MemregProcess.run(flag);
            assertEquals(0, version.status(), version.err());
            assertTrue(version.out().matches("memreg \\d+\\.\\d+\\.\\d+\\R"), version.out());
        }
    }

    @Test
    void noCommandShouldBeAUsageError() throws Exception {
        MainTest.Result result = MemregProcess.run();
        assertEquals(Main.USAGE, result.status(), result.out() + result.err());
        assertEquals("", result.out(), "usage goes to stderr, like every usage error");
        assertTrue(result.err().startsWith("memreg: no command given"), result.err());
        assertTrue(result.err().contains("Usage: memreg"), result.err());
    }

    @Test
    void theCommandListShouldGiveEachCommandAWholeSentence() {
        Map<String, String> summaries = summaries(MainTest.run("--help").out());
        assertEquals(commands(), List.copyOf(summaries.keySet()));
        summaries.forEach((command, summary) -> assertTrue(summary.endsWith(".") && !summary.contains(":,"),
                command + "'s summary is cut: \"" + summary + "\""));
    }

    /** The "Commands:" section of the top help: command to its summary, continuation lines joined. */
    static Map<String, String> summaries(String help) {
        Map<String, String> summaries = new LinkedHashMap<>();
        List<String> lines = new ArrayList<>(help.lines().toList());
        int start = lines.indexOf("Commands:");
        assertTrue(start >= 0, help);
        String current = null;
        for (String line : lines.subList(start + 1, lines.size())) {
            if (line.isBlank() || !line.startsWith(" ")) {
                break;
            }
            if (line.startsWith("  ") && !line.startsWith("   ")) {
                String[] parts = line.strip().split("\\s+", 2);
                current = parts[0];
                summaries.put(current, parts.length > 1 ? parts[1] : "");
            } else if (current != null) {
                summaries.merge(current, line.strip(), (a, b) -> a + " " + b);
            }
        }
        return summaries;
    }
}
