package org.memreg.device;

/**
 * A {@link SimulatedNic} in strict mode refused a transfer because its registration is stale:
 * a page it touches is no longer the physical frame recorded at registration, or is no longer
 * present. A real NIC would have moved data from or to the old frame (seed 000's corruption).
 */
public class StaleTransferException extends DeviceException {
    private static final long serialVersionUID = 1L;

    private final long address;

    /** Creates an exception naming the first stale page. */
    public StaleTransferException(long key, long address, String why) {
        super(String.format("stale registration (key %016x): page 0x%x %s", key, address, why));
        this.address = address;
    }

    /** The address of the first stale page found. */
    public long address() {
        return address;
    }
}
