package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * System V shared memory as a guard: {@link #attach} keeps a segment alive while another library
 * maps it by id (a segment marked for removal lives until its last attachment goes), and
 * {@link #idOf} finds the id of the segment mapped at an address. {@link #NAMESPACE} tells whether
 * two processes share segment ids: only within one IPC namespace of one boot does an id name the
 * same segment.
 */
public final class SysvShm {
    private static final int SHM_RDONLY = 010000;
    private static final long FAILED = -1L;
    private static final MethodHandle SHMAT = Native.errnoCall("shmat",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SHMDT = Native.errnoCall("shmdt", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));

    /**
     * This process's IPC namespace of this boot, as a number: equal in two processes exactly when
     * a segment id means the same segment to both (0 when it cannot be read).
     */
    public static final long NAMESPACE = namespace();

    private SysvShm() {
    }

    /**
     * Attaches segment {@code shmid} read-only anywhere and returns the address, for
     * {@link #detach}; the segment cannot go away while attached.
     *
     * @throws LinuxException when the segment is gone (EINVAL, EIDRM) or not ours to attach (EACCES)
     */
    public static long attach(int shmid) {
        return attach(shmid, false);
    }

    /**
     * {@link #attach(int)}, for reading and writing when {@code writable}.
     *
     * @throws LinuxException when the segment is gone (EINVAL, EIDRM) or not ours to attach so (EACCES)
     */
    public static long attach(int shmid, boolean writable) {
        MemorySegment state = Native.callState();
        long address;
        try {
            address = (long) SHMAT.invokeExact(state, shmid, 0L, writable ? 0 : SHM_RDONLY);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (address == FAILED) {
            throw Native.failure("shmat", state);
        }
        return address;
    }

    /** Detaches what {@link #attach} returned. */
    public static void detach(long address) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) SHMDT.invokeExact(state, address);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result != 0) {
            throw Native.failure("shmdt", state);
        }
    }

    /** A System V segment's mapping in this process: {@code [start, end)}, segment {@code shmid}. */
    public record Mapping(long start, long end, int shmid) {
    }

    /**
     * The id of the System V segment this process maps at {@code address}, or -1 when the mapping
     * there is not one.
     */
    public static int idOf(long address) {
        Mapping mapping = mappingAt(address);
        return mapping == null ? -1 : mapping.shmid();
    }

    /**
     * The System V segment's mapping that holds {@code address} in this process, or null when the
     * mapping there is not one (or there is none): in {@code /proc/self/maps} a segment's mapping
     * is named {@code /SYSV<key>} and its inode is the segment id.
     */
    public static Mapping mappingAt(long address) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                String[] f = line.split("\\s+", 6);
                int dash = f[0].indexOf('-');
                long start = Long.parseUnsignedLong(f[0], 0, dash, 16);
                long end = Long.parseUnsignedLong(f[0], dash + 1, f[0].length(), 16);
                if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
                    return f.length == 6 && f[5].startsWith("/SYSV") ? new Mapping(start, end, Integer.parseInt(f[4]))
                            : null;
                }
            }
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/maps", e);
        }
    }

    /**
     * The size of the kernel's pages behind the mapping that starts at {@code start} in this
     * process ({@code KernelPageSize} in {@code /proc/self/smaps}): the base page size, or a huge
     * page's for a segment backed by hugetlb; -1 when no mapping starts there.
     */
    public static long kernelPageBytes(long start) {
        String header = String.format("%08x-", start);
        boolean inEntry = false;
        try (var lines = Files.lines(Path.of("/proc/self/smaps"))) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (!inEntry) {
                    inEntry = line.startsWith(header);
                } else if (line.startsWith("KernelPageSize:")) {
                    String[] f = line.split("\\s+");
                    return Long.parseLong(f[1]) * 1024; // in kB
                }
            }
            return -1;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/smaps", e);
        }
    }

    private static long namespace() {
        try {
            List<String> boot = Files.readAllLines(Path.of("/proc/sys/kernel/random/boot_id"));
            String ipc = Files.readSymbolicLink(Path.of("/proc/self/ns/ipc")).toString();
            byte[] bytes = (boot.getFirst().strip() + "/" + ipc).getBytes(StandardCharsets.UTF_8);
            long hash = 0xcbf29ce484222325L; // FNV-1a: stable across JVMs, unlike String.hashCode's 32 bits
            for (byte b : bytes) {
                hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
            }
            return hash == 0 ? 1 : hash;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
