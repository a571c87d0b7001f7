package org.memreg.linux;

/**
 * A kernel facility (userfaultfd, PSI) cannot be used by this process. {@link #reason()} says why
 * in words a log line can carry ("kernel built without CONFIG_USERFAULTFD, or ..."); the errno
 * is the one of the call that decided it, 0 when no call failed.
 */
public class NotAvailableException extends LinuxException {
    private static final long serialVersionUID = 1L;

    private final String facility;
    private final String reason;

    /** {@code facility} (such as {@code "userfaultfd"}) is unavailable: {@code function} failed. */
    public NotAvailableException(String facility, String function, int errno, String reason) {
        super(function, errno, facility + " not available: " + reason);
        this.facility = facility;
        this.reason = reason;
    }

    /** The facility, such as {@code "userfaultfd"} or {@code "PSI"}. */
    public String facility() {
        return facility;
    }

    /** Why it is unavailable, one sentence. */
    public String reason() {
        return reason;
    }
}
