package org.memreg.transport;

/**
 * A transfer or connection failed: the peer is unknown, unreachable or gone, the endpoint is
 * closed, the operation timed out, the message did not fit. The message names the peer and the
 * cause; {@link #status()} is UCX's status where UCX reported one, else 0.
 */
public class TransportException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;

    /** A failure with UCX status {@code status} (0 when memreg itself detected it). */
    public TransportException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** A failure with a cause. */
    public TransportException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
    }

    /** UCX's {@code ucs_status_t}, or 0. */
    public int status() {
        return status;
    }

    /** True when a message did not fit the buffer it was received into. */
    public boolean isTruncation() {
        return status == org.memreg.ucx.Ucp.ERR_MESSAGE_TRUNCATED;
    }
}
