package org.memreg.device;

/**
 * A device could not register or deregister memory. Subclasses say why where the caller can act
 * on it: {@link ResourceExhaustedException} (evict and retry) and {@link UnmappedMemoryException}
 * (the caller's range is not mapped). Anything else is reported to the caller as it is.
 */
public class DeviceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a message. */
    public DeviceException(String message) {
        super(message);
    }

    /** Creates an exception with a message and a cause. */
    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
