package org.memreg.ucx;

/**
 * A UCX call returned an error status. {@link #status()} is the {@code ucs_status_t} (negative),
 * and the message carries UCX's own text for it ({@code ucs_status_string}).
 */
public class UcxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;

    /** {@code function} failed with {@code status}; {@code detail} may be null. */
    public UcxException(String function, int status, String detail) {
        super(function + " failed: " + Ucp.statusString(status) + " (" + status + ")"
                + (detail == null ? "" : ": " + detail));
        this.status = status;
    }

    /** A failure that is not one call's status, such as a timeout of memreg's own. */
    public UcxException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** The {@code ucs_status_t}, such as {@link Ucp#ERR_UNREACHABLE}. */
    public int status() {
        return status;
    }
}
