package org.memreg.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * The memory pressure stall information (PSI) of the whole system, as
 * {@code /proc/pressure/memory} shows it:
 *
 * <pre>
 * some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * </pre>
 *
 * @param some time in which at least one task stalled on memory
 * @param full time in which all non-idle tasks stalled on memory at once
 */
public record MemoryPressure(Stall some, Stall full) {
    /** The file read by {@link #read()}. */
    public static final Path PATH = Path.of("/proc/pressure/memory");

    /**
     * One line of a pressure file.
     *
     * @param avg10 percent of the last 10 s spent stalled
     * @param avg60 percent of the last 60 s
     * @param avg300 percent of the last 300 s
     * @param totalMicros total stall time since boot, in microseconds
     */
    public record Stall(double avg10, double avg60, double avg300, long totalMicros) {
        static Stall parse(String line) {
            double avg10 = 0;
            double avg60 = 0;
            double avg300 = 0;
            long total = 0;
            for (String field : line.trim().split("\\s+")) {
                int eq = field.indexOf('=');
                if (eq < 0) {
                    continue; // the leading "some" or "full"
                }
                String value = field.substring(eq + 1);
                switch (field.substring(0, eq)) {
                    case "avg10" -> avg10 = Double.parseDouble(value);
                    case "avg60" -> avg60 = Double.parseDouble(value);
                    case "avg300" -> avg300 = Double.parseDouble(value);
                    case "total" -> total = Long.parseLong(value);
                    default -> { } // fields a later kernel may add
                }
            }
            return new Stall(avg10, avg60, avg300, total);
        }
    }

    /** True when the kernel offers PSI ({@code /proc/pressure/memory} exists). */
    public static boolean available() {
        return Files.isReadable(PATH);
    }

    /**
     * Reads the current averages.
     *
     * @throws NotAvailableException when the kernel has no PSI
     * @throws UncheckedIOException when reading fails otherwise
     */
    public static MemoryPressure read() {
        return parse(lines());
    }

    static MemoryPressure parse(List<String> lines) {
        Stall some = null;
        Stall full = null;
        for (String line : lines) {
            if (line.startsWith("some ")) {
                some = Stall.parse(line);
            } else if (line.startsWith("full ")) {
                full = Stall.parse(line);
            }
        }
        if (some == null || full == null) {
            throw new IllegalStateException(PATH + " lacks a some or full line: " + lines);
        }
        return new MemoryPressure(some, full);
    }

    private static List<String> lines() {
        try {
            // readAllLines, not readString: the latter returned short reads of /proc files here.
            return Files.readAllLines(PATH);
        } catch (NoSuchFileException e) {
            throw new NotAvailableException("PSI", "open", Errno.ENOENT, PressureTrigger.NO_PSI);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
