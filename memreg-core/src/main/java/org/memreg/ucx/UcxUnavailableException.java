package org.memreg.ucx;

/**
 * OpenUCX cannot be used: its libraries ({@code libucp.so.0}, {@code libucs.so.0}) are not on
 * this machine, or memreg's guards cannot stand in front of them (another UCX binding loaded them
 * first). The message says which, and what to do.
 */
public final class UcxUnavailableException extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception; the message says what to do. */
    public UcxUnavailableException(String message) {
        super(message);
    }
}
