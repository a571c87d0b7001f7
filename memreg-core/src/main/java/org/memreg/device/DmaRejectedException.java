package org.memreg.device;

/**
 * The {@link SimulatedNic} refused a DMA transfer before touching memory, because the key, the
 * range or the rights do not allow it: what a real NIC reports as a protection or access error.
 */
public class DmaRejectedException extends DeviceException {
    private static final long serialVersionUID = 1L;

    /** Why a transfer was refused. */
    public enum Reason {
        /** The key names no live region (never issued, deregistered, or the device closed). */
        UNKNOWN_KEY,
        /** The transfer reaches outside the region. */
        OUT_OF_RANGE,
        /** The region's access rights do not allow this direction with this kind of key. */
        ACCESS_DENIED
    }

    private final Reason reason;

    /** Creates an exception for {@code reason} with a message naming key and range. */
    public DmaRejectedException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = reason;
    }

    /** Why the transfer was refused. */
    public Reason reason() {
        return reason;
    }
}
