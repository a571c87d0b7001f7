package org.memreg.transport;

import org.memreg.cache.Registration;
import org.memreg.ucx.UcxDevice;
import org.memreg.ucx.UcxRegion;

/**
 * One registered chunk of a rendezvous message: the UCX memory handle UCX is given with the
 * chunk's send or receive, and how to let go of it. Through the cache a release keeps the
 * registration for the next message from the same buffer; without it the chunk is mapped and
 * unmapped every time.
 */
final class Chunk {
    final long address;
    final long length;
    final long memh;
    long request;
    private final Registration registration;
    private final UcxDevice device;
    private final UcxRegion region;

    private Chunk(long address, long length, long memh, Registration registration, UcxDevice device,
            UcxRegion region) {
        this.address = address;
        this.length = length;
        this.memh = memh;
        this.registration = registration;
        this.device = device;
        this.region = region;
    }

    static Chunk register(Node node, long address, long length, org.memreg.device.Access access) {
        if (node.cache != null) {
            Registration registration = node.cache.acquire(address, length, access);
            UcxRegion region = node.device.region(registration.localKey());
            node.notePinned();
            return new Chunk(address, length, region == null ? 0 : region.memh(), registration, null, null);
        }
        long page = node.device.pageSize();
        long start = address & -page;
        long end = (address + length + page - 1) & -page;
        UcxRegion region = (UcxRegion) node.device.register(start, end - start, access);
        node.notePinned();
        return new Chunk(address, length, region.memh(), null, node.device, region);
    }

    /** A chunk with nothing registered: the empty messages of a refused send. */
    static Chunk empty() {
        return new Chunk(0, 0, 0, null, null, null);
    }

    void release() {
        if (registration == null && region == null) {
            return;
        }
        if (registration != null) {
            registration.close();
        } else {
            device.deregister(region);
        }
    }
}
