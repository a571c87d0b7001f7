package org.memreg.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The mappings of a process, from {@code /proc/<pid>/maps} (read with {@code readAllLines}: one
 * read of a procfs file can be short). A snapshot: the process may map and unmap meanwhile. The
 * one parser of that file: NUMA censuses and ODP's shared-mapping check both read it here.
 */
public final class ProcessMaps {
    /**
     * One line of {@code /proc/<pid>/maps}: a virtual memory area (the kernel's VMA)
     * {@code [start, end)}, its permissions such as {@code "rw-p"}, and the path or pseudo-name
     * ({@code "[heap]"}, {@code "[stack]"}; empty for anonymous memory).
     */
    public record Area(long start, long end, String permissions, String path) {
        /** Bytes mapped. */
        public long length() {
            return end - start;
        }

        /** True when {@code address} is in {@code [start, end)} (unsigned: {@code [vsyscall]} is at the top). */
        public boolean contains(long address) {
            return Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0;
        }

        /** True for a {@code MAP_SHARED} mapping (the {@code 's'} of {@code "rw-s"}). */
        public boolean shared() {
            return permissions.charAt(3) == 's';
        }

        /** True for private anonymous memory (no file, not shared): the heap, stacks, mmap'ed anonymous memory. */
        public boolean privateAnonymous() {
            return permissions.endsWith("p") && (path.isEmpty() || path.startsWith("[heap") || path.startsWith("[stack")
                    || path.startsWith("[anon"));
        }

        /** True for the kernel's special mappings ({@code [vsyscall]}, {@code [vvar]}, {@code [vdso]}), which hold no process pages. */
        public boolean special() {
            return path.equals("[vsyscall]") || path.startsWith("[vvar") || path.equals("[vdso]");
        }
    }

    private ProcessMaps() {
    }

    /**
     * The mappings of process {@code pid}.
     *
     * @throws IllegalArgumentException when there is no such process
     * @throws UncheckedIOException when the file cannot be read (another user's process, no root)
     */
    public static List<Area> of(long pid) {
        Path file = Path.of("/proc", Long.toString(pid), "maps");
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("no process with pid " + pid);
        } catch (AccessDeniedException e) {
            throw new UncheckedIOException("cannot read " + file + ": permission denied: process " + pid
                    + " runs as " + owner(pid) + ", and reading another user's process needs CAP_SYS_PTRACE"
                    + " (run as root, or as that user)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e, e);
        }
        List<Area> areas = new ArrayList<>();
        for (String line : lines) {
            areas.add(parse(line));
        }
        return areas;
    }

    /**
     * The area of this process that holds {@code address}.
     *
     * @throws IllegalStateException when no mapping holds it
     */
    public static Area holding(long address) {
        for (Area area : of(ProcessHandle.current().pid())) {
            if (area.contains(address)) {
                return area;
            }
        }
        throw new IllegalStateException("no mapping holds 0x" + Long.toHexString(address));
    }

    /**
     * True when every byte of {@code [address, address + length)} of this process is mapped
     * writable (one read of {@code /proc/self/maps}): a plain Java write anywhere else is a
     * SIGSEGV that kills the JVM.
     */
    public static boolean writable(long address, long length) {
        long at = address;
        long end = address + length;
        for (Area area : of(ProcessHandle.current().pid())) { // sorted by address
            if (area.contains(at)) {
                if (area.permissions().charAt(1) != 'w') {
                    return false;
                }
                at = area.end();
                if (Long.compareUnsigned(at, end) >= 0) {
                    return true;
                }
            }
        }
        return length <= 0;
    }

    private static String owner(long pid) {
        try {
            return "user " + Files.getOwner(Path.of("/proc", Long.toString(pid))).getName();
        } catch (IOException e) {
            return "another user";
        }
    }

    /** Parses one line: {@code "7f12a000-7f12b000 rw-p 00000000 00:00 0    [heap]"}. */
    static Area parse(String line) {
        String[] fields = line.trim().split("\\s+", 6);
        int dash = fields[0].indexOf('-');
        long start = Long.parseUnsignedLong(fields[0].substring(0, dash), 16);
        long end = Long.parseUnsignedLong(fields[0].substring(dash + 1), 16);
        return new Area(start, end, fields[1], fields.length > 5 ? fields[5].trim() : "");
    }
}
