package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Checks, before a long run, that its results can be written where the user asked. */
final class OutputFolder {
    private OutputFolder() {
    }

    /**
     * Creates {@code dir} (and its parents) when missing and writes and deletes a probe file in
     * it; returns it absolute.
     *
     * @throws IOException (explained by {@link FileErrors#reason}) when that fails
     */
    static Path prepare(Path dir) throws IOException {
        Path absolute = dir.toAbsolutePath().normalize();
        Files.createDirectories(absolute);
        Files.delete(Files.createTempFile(absolute, ".memreg", ".probe"));
        return absolute;
    }
}
