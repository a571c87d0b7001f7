package org.memreg.device;

/**
 * A range of virtual memory that a {@link Device} has registered: what the device returns from
 * {@link Device#register} and takes back in {@link Device#deregister}.
 *
 * <p>Devices return their own implementation and may keep device state in it (a translation
 * table slot, a UCX memory handle). The range is page aligned.
 */
public interface MemoryRegion {
    /** First byte of the registered range (page aligned). */
    long address();

    /** Length in bytes of the registered range (a multiple of the page size). */
    long length();

    /** The rights the device granted. */
    Access access();

    /** The key local operations name this region by. */
    long localKey();

    /** The key a peer names this region by; unguessable where the device supports peers. */
    long remoteKey();

    /** One past the last byte of the range. */
    default long end() {
        return address() + length();
    }
}
