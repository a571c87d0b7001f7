package org.memreg.linux;

/**
 * A Linux call failed: carries the function name and errno, and names both in the message,
 * for example {@code "mlock failed: ENOMEM (12)"}.
 */
public class LinuxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String function;
    private final int errno;

    /** Creates an exception for {@code function} failing with {@code errno}. */
    public LinuxException(String function, int errno) {
        this(function, errno, null);
    }

    /** Creates an exception for {@code function} failing with {@code errno}, with extra detail. */
    public LinuxException(String function, int errno, String detail) {
        super(function + " failed: " + Errno.name(errno) + " (" + errno + ")"
                + (detail == null ? "" : ": " + detail));
        this.function = function;
        this.errno = errno;
    }

    /** The failing function, such as {@code "mlock"}. */
    public String function() {
        return function;
    }

    /** The errno value; see {@link Errno}. */
    public int errno() {
        return errno;
    }
}
