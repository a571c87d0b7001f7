package org.memreg.linux;

/**
 * The errno values memreg reacts to (Linux x86-64 and arm64 numbers), with their names.
 */
public final class Errno {
    /** Operation not permitted. */
    public static final int EPERM = 1;
    /** No such file or directory. */
    public static final int ENOENT = 2;
    /** No such process. */
    public static final int ESRCH = 3;
    /** Interrupted system call. */
    public static final int EINTR = 4;
    /** Bad file descriptor. */
    public static final int EBADF = 9;
    /** Try again (resource temporarily unavailable). */
    public static final int EAGAIN = 11;
    /** Out of memory, or (mmap family) the range is not mapped or over a limit. */
    public static final int ENOMEM = 12;
    /** Permission denied. */
    public static final int EACCES = 13;
    /** Bad address: a pointer names memory that is not (accessibly) mapped. */
    public static final int EFAULT = 14;
    /** Device or resource busy. */
    public static final int EBUSY = 16;
    /** File exists (also MAP_FIXED_NOREPLACE over an existing mapping). */
    public static final int EEXIST = 17;
    /** No such device (also: a NUMA node that does not exist). */
    public static final int ENODEV = 19;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** Too many open files in the system. */
    public static final int ENFILE = 23;
    /** Too many open files in this process. */
    public static final int EMFILE = 24;
    /** Inappropriate ioctl for device. */
    public static final int ENOTTY = 25;
    /** Function not implemented. */
    public static final int ENOSYS = 38;
    /** Operation not supported. */
    public static final int EOPNOTSUPP = 95;

    private static final String[] NAMES = new String[96];

    static {
        String[] pairs = {"1", "EPERM", "2", "ENOENT", "3", "ESRCH", "4", "EINTR", "9", "EBADF",
            "11", "EAGAIN", "12", "ENOMEM", "13", "EACCES", "14", "EFAULT", "16", "EBUSY",
            "17", "EEXIST", "19", "ENODEV", "22", "EINVAL", "23", "ENFILE", "24", "EMFILE",
            "25", "ENOTTY", "38", "ENOSYS",
            "95", "EOPNOTSUPP"};
        for (int i = 0; i < pairs.length; i += 2) {
            NAMES[Integer.parseInt(pairs[i])] = pairs[i + 1];
        }
    }

    private Errno() {
    }

    /** The symbolic name of {@code errno}, such as {@code "ENOMEM"}, or {@code "errno 42"}. */
    public static String name(int errno) {
        String name = errno >= 0 && errno < NAMES.length ? NAMES[errno] : null;
        return name != null ? name : "errno " + errno;
    }
}
