package org.memreg.ucx;

/** OpenUCX's libraries ({@code libucp.so.0}, {@code libucs.so.0}) are not on this machine. */
public final class UcxUnavailableException extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception; the message says what to install. */
    public UcxUnavailableException(String message) {
        super(message);
    }
}
