package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;

/**
 * One holder's reference to a cached registration, returned by
 * {@link RegistrationCache#acquire(long, long, Access)}. Closing it releases the reference;
 * closing twice is harmless. The underlying registration may be shared with other holders and
 * may cover more than was asked for ({@link #address()} and {@link #length()} give the whole
 * registered range).
 *
 * <p>{@link #isValid()} turns false when the memory under the registration changed (it was
 * invalidated: unmapped, remapped, or invalidated explicitly), when the cache closed, or after
 * this holder released it. Thread-safe.
 */
public final class Registration implements AutoCloseable {
    private static final VarHandle RELEASED;

    static {
        try {
            RELEASED = MethodHandles.lookup().findVarHandle(Registration.class, "released", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final RegistrationCache cache;
    private final Entry entry;
    @SuppressWarnings("unused") // accessed through RELEASED
    private boolean released;

    Registration(RegistrationCache cache, Entry entry) {
        this.cache = cache;
        this.entry = entry;
    }

    /** First byte of the registered range (page aligned, at or below the address asked for). */
    public long address() {
        return entry.start;
    }

    /** Length of the registered range in bytes (a whole number of pages). */
    public long length() {
        return entry.length();
    }

    /** The rights registered: at least those asked for. */
    public Access access() {
        return entry.access;
    }

    /**
     * The device's region under this registration, as the device made it (for the transport's
     * UCX device, a region with its UCX memory handle): what a transport hands the device's
     * engine with a transfer. Good while
     * this holder holds it and {@link #isValid()}; the cache deregisters it after that.
     */
    public MemoryRegion region() {
        return entry.region;
    }

    /** The device's local key for the region. */
    public long localKey() {
        return entry.region.localKey();
    }

    /** The device's remote key for the region, to hand to peers. */
    public long remoteKey() {
        return entry.region.remoteKey();
    }

    /**
     * True while this holder has not released it, the cache is open, and the memory has not
     * changed under it. A registration replaced in the index by a larger one stays valid.
     */
    public boolean isValid() {
        cache.awaitPendingEvents(); // an event the kernel already woke its causer for counts
        return !(boolean) RELEASED.getAcquire(this) && (entry.state() & (Entry.INVALID | Entry.DEAD)) == 0;
    }

    /** True when {@code [address, address + length)} lies inside the registered range. */
    public boolean covers(long address, long length) {
        return address >= entry.start && length >= 0 && address <= entry.end - length;
    }

    Entry entry() {
        return entry;
    }

    /**
     * Releases this holder's reference. Closing twice is harmless. A handle belongs to one holder:
     * it may be closed on another thread than the one that acquired it, but not on two threads at
     * the same moment (that would be the same bug as any double free; the flag is not atomic so
     * that the hit path pays for one atomic operation each way, not two).
     */
    @Override
    public void close() {
        if (!(boolean) RELEASED.getAcquire(this)) {
            RELEASED.setRelease(this, true); // published by the full fence of the release that follows
            cache.release(entry);
        }
    }

    @Override
    public String toString() {
        return String.format("Registration[0x%x..0x%x %s%s]", entry.start, entry.end, entry.access,
                isValid() ? "" : " invalid");
    }
}
