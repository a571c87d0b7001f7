package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Parses {@code --pid}: a whole number from 1 to the kernel's {@code pid_max}, so that a value no
 * process can have is a usage error naming what is accepted, not an overflow deep inside.
 */
final class PidConverter implements ITypeConverter<Long> {
    private static final Path PID_MAX = Path.of("/proc/sys/kernel/pid_max");
    /** The kernel's largest pid_max (PID_MAX_LIMIT on 64-bit), when the file cannot be read. */
    private static final long PID_MAX_LIMIT = 4_194_304;

    @Override
    public Long convert(String value) {
        long max = pidMax();
        String digits = value.strip();
        long pid;
        try {
            pid = digits.chars().allMatch(Character::isDigit) ? Long.parseLong(digits) : -1;
        } catch (NumberFormatException e) { // more digits than a long holds
            pid = -1;
        }
        if (pid < 1 || pid > max) {
            throw new TypeConversionException("'" + value + "' is not a process id: expected a whole number from 1 to "
                    + max + " (kernel.pid_max)");
        }
        return pid;
    }

    /** {@code /proc/sys/kernel/pid_max}, else the largest value the kernel allows. */
    static long pidMax() {
        try {
            // readAllLines: a single read of a /proc/sys file can come back short here.
            List<String> lines = Files.readAllLines(PID_MAX);
            return lines.isEmpty() ? PID_MAX_LIMIT : Long.parseLong(lines.get(0).strip());
        } catch (IOException | NumberFormatException e) {
            return PID_MAX_LIMIT;
        }
    }
}
