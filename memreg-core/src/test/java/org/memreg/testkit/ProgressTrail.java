package org.memreg.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;

/**
 * Appends a line to the file named by {@code -Dmemreg.test.trail} as each test starts and ends,
 * written through at once. The console launcher prints its tree only at the end, so when a test
 * takes its JVM down (a signal, an abort in native code, the OOM killer) this file is what says
 * which test was running. Does nothing without the property.
 */
public final class ProgressTrail implements TestExecutionListener {
    private final Path file = trailFile();

    private static Path trailFile() {
        String name = System.getProperty("memreg.test.trail");
        return name == null || name.isBlank() ? null : Path.of(name);
    }

    @Override
    public void executionStarted(TestIdentifier test) {
        if (test.isTest()) {
            append("started " + test.getLegacyReportingName() + " " + test.getUniqueId());
        }
    }

    @Override
    public void executionFinished(TestIdentifier test, TestExecutionResult result) {
        if (test.isTest()) {
            append(result.getStatus() + " " + test.getLegacyReportingName());
        }
    }

    private void append(String line) {
        if (file == null) {
            return;
        }
        try {
            // SYNC: the line must reach the file before a crash that may follow at once.
            Files.writeString(file, line + System.lineSeparator(), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.SYNC);
        } catch (IOException e) {
            throw new UncheckedIOException("memreg tests: cannot write the progress trail " + file, e);
        }
    }
}
