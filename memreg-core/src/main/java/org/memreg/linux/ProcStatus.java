package org.memreg.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads fields of {@code /proc/self/status}, for tests and invariant checks (not hot paths). */
public final class ProcStatus {
    private static final Path STATUS = Path.of("/proc/self/status");

    private ProcStatus() {
    }

    /** {@code VmLck}: bytes of this process locked in memory (mlock), as the kernel counts them. */
    public static long vmLockedBytes() {
        return kilobyteField("VmLck:") * 1024;
    }

    /** The effective user id ({@code Uid:}, second field). */
    public static long effectiveUid() {
        return Long.parseLong(field("Uid:").split("\\s+")[1]);
    }

    /** {@code CapEff}: the effective capabilities of the process (its main thread), bit n for cap n. */
    public static long effectiveCapabilities() {
        return Long.parseUnsignedLong(field("CapEff:"), 16);
    }

    private static long kilobyteField(String field) {
        String value = field(field);
        return Long.parseLong(value.substring(0, value.indexOf(' ')));
    }

    private static String field(String field) {
        try {
            // readAllLines, not readString: /proc files may come back short with the latter here.
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(field)) {
                    return line.substring(field.length()).trim();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException(STATUS + " has no field " + field);
    }
}
