package org.memreg.stat;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A counters file that cannot be read: missing, truncated, not a memreg counters file, or of a
 * layout this reader does not know. The message names the file and says which, in one line.
 */
public final class CountersFileException extends IOException {
    private static final long serialVersionUID = 1L;

    CountersFileException(Path path, String problem) {
        super(path + ": " + problem);
    }

    CountersFileException(Path path, String problem, Throwable cause) {
        super(path + ": " + problem, cause);
    }
}
