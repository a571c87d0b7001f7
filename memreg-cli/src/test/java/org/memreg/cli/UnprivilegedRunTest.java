package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.memreg.linux.ProcStatus;
import org.memreg.testkit.Unprivileged;

/**
 * The suite as an unprivileged user sees it: every {@link Unprivileged} test (cache, monitor,
 * mlock limit, stat, CLI, the transport against hostile peers and misuse; from memreg-core's
 * test jar and this module) runs again, in one child JVM started with {@code setpriv
 * --reuid=65534 --regid=65534 --clear-groups}: no CAP_IPC_LOCK, CAP_SYS_NICE or CAP_SYS_PTRACE,
 * RLIMIT_MEMLOCK in force, physical frames hidden. The JUnit
 * console launcher runs them; its output is shown line by line, prefixed, and the counts end in one
 * line "memreg: unprivileged run ...: N tests, ...".
 *
 * <p>User 65534 cannot read the build's usual files (the Maven repository is under root's 0700
 * home, a clone may be too), so the test class path is copied into a world-readable folder in
 * {@code java.io.tmpdir} first; the child works in a folder of its own there (its counters
 * directory, its reports). When the build itself runs as another user (CI), that user has no
 * capabilities to lose: the child runs as that user, without setpriv, and the line says so.
 */
class UnprivilegedRunTest {
    private static final long NOBODY = 65534;
    private static final long TIMEOUT_MINUTES = 10;
    private static final Pattern COUNT = Pattern.compile("\\[\\s*(\\d+) tests (found|successful|skipped|aborted|failed)\\s*]");

    @Test
    void theUnprivilegedTestsShouldPassAsUser65534() throws Exception {
        boolean root = ProcStatus.effectiveUid() == 0;
        Path stage = Files.createTempDirectory("memreg-unprivileged-");
        try {
            Files.setPosixFilePermissions(stage, PosixFilePermissions.fromString("rwxr-xr-x"));
            List<String> classpath = stageClasspath(stage.resolve("classpath"));
            Path work = Files.createDirectories(stage.resolve("work"));
            if (root) {
                Files.setAttribute(work, "unix:uid", (int) NOBODY);
                Files.setAttribute(work, "unix:gid", (int) NOBODY);
            }
            List<String> command = new ArrayList<>();
            if (root) {
                assertTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "setpriv (util-linux) is missing: bin/test installs it");
                command.addAll(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
            }
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-Dmemreg.stat.dir=" + work.resolve("stat")));
            System.getProperties().forEach((key, value) -> {
                if (key.toString().startsWith("memreg.test.")) {
                    command.add("-D" + key + "=" + value);
                }
            });
            command.addAll(List.of("-cp", String.join(File.pathSeparator, classpath),
                    "org.junit.platform.console.ConsoleLauncher", "execute", "--disable-banner", "--disable-ansi-colors",
                    "--details=tree", "--include-tag=" + Unprivileged.TAG, "--select-package=org.memreg",
                    "--fail-if-no-tests", "--reports-dir=" + work.resolve("reports")));
            String who = root ? "uid " + NOBODY + " (setpriv: no capabilities)"
                    : "uid " + ProcStatus.effectiveUid() + " (the build's own user, not root: no setpriv needed)";
            System.out.println("memreg: unprivileged run as " + who + ": the @Unprivileged tests");
            Map<String, Long> counts = new TreeMap<>();
            int status = run(new ProcessBuilder(command).directory(work.toFile()).redirectErrorStream(true), counts);
            copyReports(work.resolve("reports"), Path.of("target", "unprivileged-reports"));
            System.out.printf("memreg: unprivileged run as %s: %d tests, %d successful, %d skipped, %d aborted, %d failed%n",
                    who, counts.getOrDefault("found", 0L), counts.getOrDefault("successful", 0L),
                    counts.getOrDefault("skipped", 0L), counts.getOrDefault("aborted", 0L),
                    counts.getOrDefault("failed", 0L));
            assertEquals(0, status, "the unprivileged run failed (its output is above, prefixed [unprivileged])");
            assertEquals(0L, counts.getOrDefault("failed", -1L), "failed tests");
            assertTrue(counts.getOrDefault("found", 0L) >= 100, "the tagged tests of both modules ran: " + counts);
        } finally {
            deleteTree(stage);
        }
    }

    /** Runs the child, echoing its output prefixed, collecting the summary's counts; returns its exit status. */
    private static int run(ProcessBuilder builder, Map<String, Long> counts) throws IOException, InterruptedException {
        Process child = builder.start();
        Thread echo = Thread.ofPlatform().start(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    System.out.println("[unprivileged] " + line);
                    Matcher m = COUNT.matcher(line);
                    if (m.find()) {
                        counts.put(m.group(2), Long.parseLong(m.group(1)));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        if (!child.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            child.destroyForcibly().waitFor();
            echo.join();
            throw new AssertionError("the unprivileged run took over " + TIMEOUT_MINUTES + " minutes");
        }
        echo.join();
        return child.exitValue();
    }

    /** Copies every entry of this JVM's class path into {@code into}, readable by all; returns the copies in order. */
    private static List<String> stageClasspath(Path into) throws IOException {
        List<String> staged = new ArrayList<>();
        String[] entries = System.getProperty("java.class.path").split(File.pathSeparator);
        for (int i = 0; i < entries.length; i++) {
            Path source = Path.of(entries[i]);
            if (!Files.exists(source)) {
                continue;
            }
            Path target = into.resolve(i + "-" + source.getFileName());
            copyTree(source, target);
            staged.add(target.toString());
        }
        try (Stream<Path> all = Files.walk(into)) {
            for (Path path : all.toList()) {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(
                        Files.isDirectory(path) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        Files.setPosixFilePermissions(into, PosixFilePermissions.fromString("rwxr-xr-x"));
        return staged;
    }

    private static void copyTree(Path source, Path target) throws IOException {
        try (Stream<Path> all = Files.walk(source)) {
            for (Path path : all.toList()) {
                Path copy = target.resolve(source.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(copy);
                } else {
                    Files.createDirectories(copy.getParent());
                    Files.copy(path, copy, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /** Keeps the child's XML reports in target/unprivileged-reports, for CI. */
    private static void copyReports(Path reports, Path target) throws IOException {
        if (Files.isDirectory(reports)) {
            deleteTree(target);
            copyTree(reports, target);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path path : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
