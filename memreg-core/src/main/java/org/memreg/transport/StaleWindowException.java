package org.memreg.transport;

/**
 * A put or get named a window through a key that is no longer good: the owner closed the window
 * or invalidated that generation of its key. Nothing was sent.
 */
public final class StaleWindowException extends TransportException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception for window {@code windowId}, generation {@code generation}. */
    public StaleWindowException(long windowId, long generation, String why) {
        super(String.format("window %016x generation %d is stale: %s", windowId, generation, why), 0);
    }
}
