package org.memreg.monitor;

/**
 * A monitor (or the kernel facility it needs: userfaultfd, UCM's hooks, PSI) cannot be used by
 * this process. {@link #reason()} says why in words a log line can carry; {@link #errno()} is
 * the one of the system call that decided it, 0 when no call failed.
 */
public final class MonitorUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String facility;
    private final String reason;
    private final int errno;

    /** {@code facility} (such as {@code "userfaultfd"}) cannot be used, for {@code reason}. */
    public MonitorUnavailableException(String facility, String reason, int errno, Throwable cause) {
        super(facility + " not available: " + reason, cause);
        this.facility = facility;
        this.reason = reason;
        this.errno = errno;
    }

    /** The facility, such as {@code "userfaultfd"}, {@code "memory hooks"} or {@code "PSI"}. */
    public String facility() {
        return facility;
    }

    /** Why it cannot be used, one sentence. */
    public String reason() {
        return reason;
    }

    /** The errno of the call that decided it, 0 when no call failed. */
    public int errno() {
        return errno;
    }
}
