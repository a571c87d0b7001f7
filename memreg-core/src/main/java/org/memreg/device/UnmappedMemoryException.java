package org.memreg.device;

/** The range asked for is not (wholly) mapped in this process, so it cannot be registered. */
public class UnmappedMemoryException extends DeviceException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception naming the unmapped range. */
    public UnmappedMemoryException(long address, long length) {
        super(String.format("memory 0x%x..0x%x (%d bytes) is not mapped", address, address + length, length));
    }
}
