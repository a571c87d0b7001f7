package org.memreg.transport;

import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.ucx.UcxRegion;

/**
 * One registered chunk of a rendezvous message or a put/get: the UCX memory handle UCX is given
 * with the transfer, and the cache registration to release when UCX is done with it. Whether a
 * release keeps the registration for the next message from the same buffer is the cache's
 * policy (a node that does not cache builds its cache to keep nothing unused).
 */
final class Chunk {
    final long address;
    final long length;
    /** The {@code ucp_mem_h} of the chunk's registration; never 0 for a registered chunk. */
    final long memh;
    long request;
    private final Registration registration;

    private Chunk(long address, long length, long memh, Registration registration) {
        this.address = address;
        this.length = length;
        this.memh = memh;
        this.registration = registration;
    }

    /**
     * Registers {@code [address, address + length)} through {@code cache}, whose device must be a
     * {@link org.memreg.ucx.UcxDevice}: UCX moves a chunk zero-copy only with its memory handle.
     *
     * @throws IllegalStateException when the cache's device gave no UCX memory handle (the
     *     registration is released first): a chunk never silently goes without one
     * @throws RuntimeException what the cache throws when it cannot register the range
     */
    static Chunk register(RegistrationCache cache, long address, long length, Access access) {
        Registration registration = cache.acquire(address, length, access);
        if (!(registration.region() instanceof UcxRegion region) || region.memh() == 0) {
            registration.close();
            throw new IllegalStateException("the registration of a chunk at 0x" + Long.toHexString(address)
                    + " has no UCX memory handle: " + registration.region() + " from device "
                    + cache.device().name());
        }
        return new Chunk(address, length, region.memh(), registration);
    }

    /** A chunk with nothing registered: the empty messages of a refused send. */
    static Chunk empty() {
        return new Chunk(0, 0, 0, null);
    }

    /** Lets go of the registration (UCX is done with the chunk); nothing for an empty chunk. */
    void release() {
        if (registration != null) {
            registration.close();
        }
    }
}
