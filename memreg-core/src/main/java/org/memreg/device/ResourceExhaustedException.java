package org.memreg.device;

/**
 * The device is out of registration resources: pin budget (RLIMIT_MEMLOCK or a configured
 * budget), translation-table entries or regions. The registration cache reacts by deregistering
 * least recently used unused registrations and retrying; when nothing is left to evict it throws
 * this exception itself, naming what is pinned, what is in use, and the limit.
 */
public class ResourceExhaustedException extends DeviceException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception whose message names the exhausted resource and its limit. */
    public ResourceExhaustedException(String message) {
        super(message);
    }

    /** Creates an exception with a cause (typically the device's own exhaustion). */
    public ResourceExhaustedException(String message, Throwable cause) {
        super(message, cause);
    }
}
