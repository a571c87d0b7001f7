package org.memreg.device;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.memreg.config.Settings;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mincore;
import org.memreg.linux.SysConf;
import org.memreg.util.Budget;
import org.memreg.util.Keys;
import org.memreg.util.PageCounts;
import org.memreg.util.RangeCheck;

/**
 * A {@link Device} that pins memory with the kernel's {@code mlock}: registered pages stay
 * resident until deregistered. This is the pinning an RDMA NIC needs minus the NIC.
 *
 * <p><b>Counting.</b> The kernel does not count page locks (one munlock undoes every mlock), but
 * the cache may register overlapping ranges in separate registrations. The device therefore
 * keeps a lock count per page and calls munlock only for pages going 1→0. It calls mlock on the
 * whole range of every registration, not only on the pages going 0→1: a count is kept by
 * address, but a lock belongs to the mapping, and a registration still held over memory that
 * was unmapped keeps its count while a new mapping at the same address has no lock at all.
 * Locking pages already locked changes nothing (the kernel counts a page once against
 * RLIMIT_MEMLOCK); locking the new mapping gives it its own pin. {@link #registeredBytes()} is
 * the number of distinct counted bytes: what {@code VmLck} in {@code /proc/self/status} shows
 * for this device's memory, except for counted pages whose mapping is gone.
 *
 * <p><b>Limits.</b> A pin budget ({@link Builder#pinBudget}, property
 * {@value #PIN_BUDGET_PROP_NAME}) is checked before mlock is called. Its default is the
 * {@link PinBound}: none of memreg's own where the kernel's RLIMIT_MEMLOCK applies (processes
 * without CAP_IPC_LOCK), else a quarter of memory, since root
 * ignores that limit. Beyond the budget, and when the kernel refuses for RLIMIT_MEMLOCK, register
 * throws {@link ResourceExhaustedException}, saying how to raise the limit. Unmapped memory gives
 * {@link UnmappedMemoryException} (told apart from the limit with mincore). After any failure
 * nothing of the request stays locked.
 *
 * <p><b>Caveats.</b> munlock also undoes locks the application took itself on the same pages.
 * mlock does not stop the kernel from moving a page to another physical frame (compaction).
 *
 * <p>Thread safe: one lock inside the device serialises register, deregister and close (this is
 * the registration cache's miss path; the mlock syscall dominates).
 */
public final class MlockDevice implements Device {
    /** System property for the pin budget in bytes (suffixes k, m, g allowed); default: {@link PinBound}. */
    public static final String PIN_BUDGET_PROP_NAME = "memreg.mlock.pinBudget";

    private final long pinBudget;
    private final PinBound bound;
    private final long pageSize = SysConf.pageSize();
    private final PageCounts locks = new PageCounts();
    private final Map<Long, LockedRegion> live = new HashMap<>();
    private boolean closed;

    private MlockDevice(Builder builder) {
        this.bound = builder.bound;
        this.pinBudget = builder.bound.deviceBudget();
    }

    /** A builder; what is not set comes from the {@code memreg.mlock.*} system properties in {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "mlock";
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    /** The pin budget this device checks, in bytes ({@code Long.MAX_VALUE}: none, the kernel's RLIMIT_MEMLOCK bounds it). */
    public long pinBudget() {
        return pinBudget;
    }

    /** The bound on what this device pins and where it comes from. */
    public PinBound bound() {
        return bound;
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        Objects.requireNonNull(access, "access");
        RangeCheck.check(address, length, pageSize);
        long end = address + length;
        synchronized (this) {
            if (closed) {
                throw new DeviceException("mlock device is closed");
            }
            List<long[]> gaps = Budget.newRanges(locks, address, end, pinBudget, "mlock pin budget", "locked",
                    bound.description() + "; " + bound.howToRaise(), ResourceExhaustedException::new);
            lock(gaps, address, length);
            locks.increment(address, end);
            LockedRegion region = new LockedRegion(address, length, access, newKey(), Keys.next());
            live.put(region.localKey(), region);
            return region;
        }
    }

    @Override
    public void deregister(MemoryRegion region) {
        synchronized (this) {
            if (!(region instanceof LockedRegion locked) || live.get(locked.localKey()) != locked) {
                return; // deregistered already (or by close), or not ours: harmless
            }
            live.remove(locked.localKey());
            unlockAll(locks.decrement(locked.address(), locked.end()));
        }
    }

    @Override
    public synchronized long registeredBytes() {
        return locks.coveredBytes();
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            live.clear();
            List<long[]> ranges = locks.coveredRanges();
            locks.clear();
            unlockAll(ranges);
        }
    }

    // Locks the whole range (see "Counting"); on failure unlocks the pages no other registration
    // counts, so nothing of this request stays locked, and throws.
    private void lock(List<long[]> gaps, long address, long length) {
        int errno = MemoryLock.tryMlock(address, length);
        if (errno != 0) {
            // mlock may have locked the mappings before a hole: undo the pages only this request locked.
            for (long[] gap : gaps) {
                unlockMapped(gap[0], gap[1]);
            }
            throw failure(errno, address, length, gaps.stream().mapToLong(g -> g[1] - g[0]).sum());
        }
    }

    private DeviceException failure(int errno, long address, long length, long newBytes) {
        LinuxException cause = new LinuxException("mlock", errno);
        if ((errno == Errno.ENOMEM || errno == Errno.EAGAIN) && !Mincore.isMapped(address, length)) {
            return new UnmappedMemoryException(address, length);
        }
        if (errno == Errno.ENOMEM || errno == Errno.EAGAIN || errno == Errno.EPERM) {
            MemoryLock.Limit limit = MemoryLock.memlockLimit();
            return new ResourceExhaustedException(String.format(
                    "mlock refused by the kernel (RLIMIT_MEMLOCK soft limit %s bytes): %d bytes locked"
                            + " by this device, %d more requested; %s",
                    limit.soft() == MemoryLock.RLIM_INFINITY ? "unlimited" : Long.toString(limit.soft()),
                    locks.coveredBytes(), newBytes, PinBound.raiseRlimit()), cause);
        }
        return new DeviceException("mlock failed for " + length + " bytes at 0x" + Long.toHexString(address), cause);
    }

    // munlock [start, end) even if parts are unmapped: split around holes (ENOMEM) by halving.
    private void unlockMapped(long start, long end) {
        int errno = MemoryLock.tryMunlock(start, end - start);
        if (errno == Errno.ENOMEM && end - start > pageSize) {
            long middle = start + (end - start) / pageSize / 2 * pageSize;
            unlockMapped(start, middle);
            unlockMapped(middle, end);
        }
    }

    // Unlocks every range. Holes (ENOMEM) are no failure: unmapping released those pages already.
    private void unlockAll(List<long[]> ranges) {
        LinuxException failure = null;
        for (long[] range : ranges) {
            int errno = MemoryLock.tryMunlock(range[0], range[1] - range[0]);
            if (errno == Errno.ENOMEM) {
                unlockMapped(range[0], range[1]);
            } else if (errno != 0 && failure == null) {
                failure = new LinuxException("munlock", errno,
                        String.format("0x%x..0x%x", range[0], range[1]));
            }
        }
        if (failure != null) {
            throw new DeviceException("mlock device could not unlock all pages", failure);
        }
    }

    private long newKey() {
        long key;
        do {
            key = Keys.next();
        } while (live.containsKey(key));
        return key;
    }

    /** Configures an {@link MlockDevice}; what is not set comes from the {@code memreg.mlock.*} properties. */
    public static final class Builder {
        private PinBound bound; // null: PinBound.current() in build()

        private Builder() {
        }

        /** Most bytes the device may lock at once (distinct pages); default: {@link PinBound#current()}. */
        public Builder pinBudget(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("pinBudget must be positive: " + bytes);
            }
            this.bound = new PinBound(bytes, PinBound.Source.CONFIGURED);
            return this;
        }

        /** The bound to apply, as {@link PinBound#byDefault} makes it (tests: a small default). */
        Builder bound(PinBound bound) {
            this.bound = Objects.requireNonNull(bound, "bound");
            return this;
        }

        /**
         * Reads {@value #PIN_BUDGET_PROP_NAME} unless a budget was set, validates the settings and
         * creates the device.
         *
         * @throws IllegalArgumentException when the property is not a positive size
         */
        public MlockDevice build() {
            bound = Settings.orElse(bound, PinBound::current);
            return new MlockDevice(this);
        }
    }
}
