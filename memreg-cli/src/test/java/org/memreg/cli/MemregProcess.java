package org.memreg.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real {@code memreg} entry point, {@link Main#main}, in a JVM of its own, as
 * {@code bin/memreg} does: the exit status is the process's, stdout and stderr are the real
 * streams. Slower than {@link MainTest#run} (a JVM start each), so the tests use it where the
 * process matters: exit codes, help, and the same command as another user.
 */
final class MemregProcess {
    private MemregProcess() {
    }

    /** Runs {@code memreg args...} and waits for it (at most two minutes). */
    static MainTest.Result run(String... args) throws IOException, InterruptedException {
        return run(List.of(), args);
    }

    /**
     * Runs {@code prefix... java ... org.memreg.cli.Main args...}: {@code prefix} is a command to
     * run the JVM under, such as {@code setpriv --reuid=65534 ...}; empty for none.
     */
    static MainTest.Result run(List<String> prefix, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("memreg-out", ".txt");
        Path err = Files.createTempFile("memreg-err", ".txt");
        try {
            Process process = start(prefix, args).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                throw new AssertionError("memreg " + String.join(" ", args) + " did not finish in 120 s");
            }
            return new MainTest.Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** The process builder for {@code prefix... java ... org.memreg.cli.Main args...}, not started. */
    static ProcessBuilder start(List<String> prefix, String... args) {
        List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command);
    }
}
