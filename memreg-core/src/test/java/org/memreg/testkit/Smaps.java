package org.memreg.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads {@code /proc/self/smaps}: what the kernel says about one mapping. */
public final class Smaps {
    private Smaps() {
    }

    /** The {@code Locked:} bytes of the mapping that contains {@code address}; -1 when none does. */
    public static long lockedBytes(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (String line : lines) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0;
            } else if (inside && line.startsWith("Locked:")) {
                return Long.parseLong(line.substring("Locked:".length()).replace("kB", "").strip()) * 1024;
            }
        }
        return -1;
    }
}
