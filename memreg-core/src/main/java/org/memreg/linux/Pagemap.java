package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Reads {@code /proc/self/pagemap}: one 64-bit entry per virtual page, saying whether the page
 * is present and in which physical frame.
 *
 * <pre>
 *  63        62        61     56         55          54 ........................ 0
 * +---------+---------+------+----------+-----------+-----------------------------+
 * | present | swapped | file | exclusive| soft-dirty| page frame number (PFN)     |
 * +---------+---------+------+----------+-----------+-----------------------------+
 * </pre>
 *
 * <p>{@link #readOf} reads another process's file the same way. The PFN bits are only filled in for processes with CAP_SYS_ADMIN (root); otherwise they
 * read as zero while the flag bits stay valid: see {@link #pfnsVisible()}. The file is opened
 * once per JVM and never closed, so reads never race with a close (pread is thread safe).
 */
public final class Pagemap {
    /** Bits 0–54: the page frame number. */
    public static final long PFN_MASK = (1L << 55) - 1;
    /** Bit 56: the page is mapped exclusively (by this process only). */
    public static final long EXCLUSIVE_BIT = 1L << 56;
    /** Bit 62: the page is swapped out. */
    public static final long SWAPPED_BIT = 1L << 62;
    /** Bit 63: the page is present in memory. */
    public static final long PRESENT_BIT = 1L << 63;

    private static final int SCRATCH_ENTRIES = 512;
    private static final MethodHandle PREAD = Native.errnoCall("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG, SCRATCH_ENTRIES));

    private Pagemap() {
    }

    // Holder idiom: opened on first use, for the life of the JVM.
    private static final class File {
        static final int FD = open();
        static final boolean PFNS_VISIBLE = probe();

        private static int open() {
            int fd = Fd.open("/proc/self/pagemap", Fd.O_RDONLY | Fd.O_CLOEXEC);
            if (fd < 0) {
                throw new LinuxException("open", -fd, "/proc/self/pagemap");
            }
            return fd;
        }

        // Touch a fresh page and look at its entry: present with PFN 0 means PFNs are hidden.
        private static boolean probe() {
            long page = Mman.mapAnonymous(SysConf.pageSize());
            try {
                Mman.segment(page, 8).set(JAVA_LONG, 0, 1L);
                long entry = Pagemap.read(page, 1)[0];
                return isPresent(entry) && pfn(entry) != 0;
            } finally {
                Mman.munmap(page, SysConf.pageSize());
            }
        }
    }

    /** True when entries carry real PFNs (root); false when the kernel zeroes them. */
    public static boolean pfnsVisible() {
        return File.PFNS_VISIBLE;
    }

    /** The entries of the {@code pages} pages starting at the page containing {@code address}. */
    public static long[] read(long address, int pages) {
        long[] entries = new long[pages];
        read(address, entries, pages);
        return entries;
    }

    /**
     * Reads the entries of {@code count} pages, starting at the page containing {@code address},
     * into {@code entries[0..count)}. Unmapped pages read as 0 (not present).
     *
     * @throws LinuxException when the read fails
     */
    public static void read(long address, long[] entries, int count) {
        read(File.FD, address, entries, count);
    }

    /**
     * The entries of {@code pages} pages of process {@code pid} (0: this one), starting at the page
     * containing {@code address}, from {@code /proc/<pid>/pagemap}; null when that file cannot be
     * opened (no such process, or not allowed: it needs the same uid or CAP_SYS_PTRACE).
     *
     * @throws LinuxException when the read fails
     */
    public static long[] readOf(long pid, long address, int pages) {
        if (pid == 0 || pid == ProcessHandle.current().pid()) {
            return read(address, pages);
        }
        int fd = Fd.open("/proc/" + pid + "/pagemap", Fd.O_RDONLY | Fd.O_CLOEXEC);
        if (fd < 0) {
            return null;
        }
        try {
            long[] entries = new long[pages];
            read(fd, address, entries, pages);
            return entries;
        } finally {
            Fd.close(fd);
        }
    }

    private static void read(int fd, long address, long[] entries, int count) {
        MemorySegment scratch = SCRATCH.get();
        long firstPage = Long.divideUnsigned(address, SysConf.pageSize());
        for (int done = 0; done < count; ) {
            int chunk = Math.min(count - done, SCRATCH_ENTRIES);
            long bytes = chunk * 8L;
            long offset = (firstPage + done) * 8L;
            MemorySegment state = Native.callState();
            long got;
            try {
                got = (long) PREAD.invokeExact(state, fd, scratch.address(), bytes, offset);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (got != bytes) {
                throw got < 0 ? Native.failure("pread", state)
                        : new LinuxException("pread", Errno.EFAULT, "short read of pagemap: " + got);
            }
            MemorySegment.copy(scratch, JAVA_LONG, 0, entries, done, chunk);
            done += chunk;
        }
    }

    /** The page frame number of an entry (0 when not present or not visible). */
    public static long pfn(long entry) {
        return entry & PFN_MASK;
    }

    /** True when the entry's page is present in memory. */
    public static boolean isPresent(long entry) {
        return (entry & PRESENT_BIT) != 0;
    }
}
