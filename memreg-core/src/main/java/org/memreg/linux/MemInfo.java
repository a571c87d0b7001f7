package org.memreg.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads {@code /proc/meminfo}: how much memory the machine has and how much it can still give. */
public final class MemInfo {
    private static final Path MEMINFO = Path.of("/proc/meminfo");

    private MemInfo() {
    }

    /** {@code MemTotal}: usable physical memory in bytes. */
    public static long totalBytes() {
        return kilobytes("MemTotal:") * 1024;
    }

    /**
     * {@code MemAvailable}: the kernel's estimate of the bytes that can be allocated now without
     * swapping (free memory plus what it can reclaim).
     */
    public static long availableBytes() {
        return kilobytes("MemAvailable:") * 1024;
    }

    private static long kilobytes(String field) {
        try {
            // readAllLines, not readString: /proc files may come back short with the latter here.
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith(field)) {
                    String value = line.substring(field.length()).trim();
                    return Long.parseLong(value.substring(0, value.indexOf(' ')));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException(MEMINFO + " has no field " + field);
    }
}
