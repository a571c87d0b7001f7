package org.memreg.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.StringJoiner;

/**
 * The feature bits of the {@code UFFDIO_API} handshake and the ioctl bits that
 * {@code UFFDIO_API} and {@code UFFDIO_REGISTER} report, with their names for logs.
 */
public final class UffdFeatures {
    /** Write-protect faults carry PAGEFAULT_FLAG_WP (always on where WP is supported). */
    public static final long PAGEFAULT_FLAG_WP = 1L << 0;
    /** FORK events; needs CAP_SYS_PTRACE. */
    public static final long EVENT_FORK = 1L << 1;
    /** REMAP events for mremap of a registered range (without it the new range is unregistered). */
    public static final long EVENT_REMAP = 1L << 2;
    /** REMOVE events for madvise(DONTNEED/FREE/REMOVE) of a registered range. */
    public static final long EVENT_REMOVE = 1L << 3;
    /** MISSING mode works on hugetlbfs. */
    public static final long MISSING_HUGETLBFS = 1L << 4;
    /** MISSING mode works on shmem. */
    public static final long MISSING_SHMEM = 1L << 5;
    /** UNMAP events for munmap (or MAP_FIXED over) a registered range. */
    public static final long EVENT_UNMAP = 1L << 6;
    /** Faults raise SIGBUS instead of producing PAGEFAULT events. */
    public static final long SIGBUS = 1L << 7;
    /** PAGEFAULT events carry the faulting thread's id. */
    public static final long THREAD_ID = 1L << 8;
    /** MINOR mode works on hugetlbfs. */
    public static final long MINOR_HUGETLBFS = 1L << 9;
    /** MINOR mode works on shmem. */
    public static final long MINOR_SHMEM = 1L << 10;
    /** PAGEFAULT addresses are exact, not rounded to the page. */
    public static final long EXACT_ADDRESS = 1L << 11;
    /** WP mode works on hugetlbfs and shmem. */
    public static final long WP_HUGETLBFS_SHMEM = 1L << 12;
    /** WP mode also protects pages that are not populated yet. */
    public static final long WP_UNPOPULATED = 1L << 13;
    /** UFFDIO_POISON is supported. */
    public static final long POISON = 1L << 14;
    /** Write-protect faults are resolved by the kernel itself (dirty tracking). */
    public static final long WP_ASYNC = 1L << 15;
    /** UFFDIO_MOVE is supported. */
    public static final long MOVE = 1L << 16;
    /** What the registration-cache monitor needs: REMAP, REMOVE and UNMAP events, thread ids. */
    public static final long MONITOR = EVENT_REMAP | EVENT_REMOVE | EVENT_UNMAP | THREAD_ID;

    /** {@code 1L << _UFFDIO_WAKE} in an ioctls mask. */
    public static final long IOCTL_WAKE = 1L << 0x02;
    /** {@code 1L << _UFFDIO_COPY}. */
    public static final long IOCTL_COPY = 1L << 0x03;
    /** {@code 1L << _UFFDIO_ZEROPAGE}. */
    public static final long IOCTL_ZEROPAGE = 1L << 0x04;
    /** {@code 1L << _UFFDIO_MOVE}. */
    public static final long IOCTL_MOVE = 1L << 0x05;
    /** {@code 1L << _UFFDIO_WRITEPROTECT}. */
    public static final long IOCTL_WRITEPROTECT = 1L << 0x06;
    /** {@code 1L << _UFFDIO_CONTINUE}. */
    public static final long IOCTL_CONTINUE = 1L << 0x07;
    /** {@code 1L << _UFFDIO_POISON}. */
    public static final long IOCTL_POISON = 1L << 0x08;

    private static final String[] FEATURE_NAMES = {"PAGEFAULT_FLAG_WP", "EVENT_FORK", "EVENT_REMAP",
        "EVENT_REMOVE", "MISSING_HUGETLBFS", "MISSING_SHMEM", "EVENT_UNMAP", "SIGBUS", "THREAD_ID",
        "MINOR_HUGETLBFS", "MINOR_SHMEM", "EXACT_ADDRESS", "WP_HUGETLBFS_SHMEM", "WP_UNPOPULATED",
        "POISON", "WP_ASYNC", "MOVE"};
    private static final String[] IOCTL_NAMES = {"REGISTER", "UNREGISTER", "WAKE", "COPY",
        "ZEROPAGE", "MOVE", "WRITEPROTECT", "CONTINUE", "POISON"};
    private static final Path UNPRIVILEGED_SYSCTL = Path.of("/proc/sys/vm/unprivileged_userfaultfd");

    private UffdFeatures() {
    }

    /** Feature bits as names, such as {@code "EVENT_REMAP|THREAD_ID"}; unknown bits as {@code bit17}. */
    public static String featureNames(long features) {
        return names(features, FEATURE_NAMES);
    }

    /** An ioctls mask as names, such as {@code "WAKE|COPY|ZEROPAGE"}; bit 63 is {@code API}. */
    public static String ioctlNames(long ioctls) {
        String names = names(ioctls & ~(1L << 63), IOCTL_NAMES);
        return ioctls < 0 ? (names.equals("none") ? "API" : names + "|API") : names;
    }

    /** {@code vm.unprivileged_userfaultfd} as text ("0", "1"), or "absent". */
    static String unprivilegedSysctl() {
        try {
            // readAllLines: readString came back short on /proc/sys files on this kernel.
            List<String> lines = Files.readAllLines(UNPRIVILEGED_SYSCTL);
            return lines.isEmpty() ? "empty" : lines.get(0).trim();
        } catch (IOException e) {
            return "absent";
        }
    }

    private static String names(long bits, String[] table) {
        StringJoiner joiner = new StringJoiner("|");
        for (int bit = 0; bit < 64; bit++) {
            if ((bits & (1L << bit)) != 0) {
                joiner.add(bit < table.length ? table[bit] : "bit" + bit);
            }
        }
        return joiner.length() == 0 ? "none" : joiner.toString();
    }
}
