package org.memreg.ucx;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.DeviceException;
import org.memreg.device.MemoryRegion;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.device.UnmappedMemoryException;
import org.memreg.linux.Mincore;
import org.memreg.linux.SysConf;
import org.memreg.util.Budget;
import org.memreg.util.Keys;
import org.memreg.util.PageCounts;
import org.memreg.util.RangeCheck;

/**
 * A {@link Device} whose registrations are OpenUCX memory handles: {@code ucp_mem_map} of the
 * range, with the remote key packed ({@code ucp_rkey_pack}) on first use. The registration cache
 * caches them like any other device's, so a transport that sends from or receives into a reused
 * buffer hands UCX the same {@code ucp_mem_h} every time instead of mapping it per message.
 *
 * <p><b>What "registered" means here.</b> On this machine kind (no RDMA NIC) UCX's memory domains
 * are shared memory, CMA and TCP, none of which pins pages; the handle is what UCX needs to name
 * the memory for zero-copy transfers and remote keys. With an RDMA device, UCX would pin the
 * pages inside {@code ucp_mem_map}. {@link #registeredBytes()} counts the distinct bytes under
 * live handles (overlapping registrations once per page), {@link #peakRegisteredBytes()} the
 * most of them at once.
 *
 * <p><b>Limits.</b> An optional budget ({@link Builder#budget}, property
 * {@value #BUDGET_PROP_NAME}, default none) gives {@link ResourceExhaustedException} beyond it.
 * UCX maps unmapped addresses without complaint, so the device checks with {@code mincore} first
 * and throws {@link UnmappedMemoryException}.
 *
 * <p><b>Context.</b> The device maps into the {@link UcxContext} given to the builder and leaves
 * it open on close; built without one, it creates its own and closes it last. Closing
 * unmaps every handle first (UCX aborts when a context goes while memory is mapped).
 *
 * <p>Thread safe: register, deregister and close serialise on the device.
 */
public final class UcxDevice implements Device {
    /** System property for the budget in bytes (suffixes k, m, g allowed). */
    public static final String BUDGET_PROP_NAME = "memreg.ucx.budget";
    /** Default budget: none. */
    public static final long BUDGET_DEFAULT = Long.MAX_VALUE;

    private final UcxContext context;
    private final boolean ownsContext;
    private final long budget;
    private final long pageSize = SysConf.pageSize();
    private final PageCounts counts = new PageCounts();
    private final Map<Long, UcxRegion> live = new HashMap<>();
    /** Most bytes registered at once since creation or {@link #resetPeakRegisteredBytes()}. */
    private long peakBytes;
    private boolean closed;

    private UcxDevice(Builder builder) {
        this.ownsContext = builder.context == null;
        this.context = ownsContext ? UcxContext.create(Map.of()) : builder.context;
        this.budget = builder.budget;
    }

    /** A builder with the settings of the {@code memreg.ucx.*} system properties. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "ucx";
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    /** The context registrations are mapped into. */
    public UcxContext context() {
        return context;
    }

    /** The configured budget in bytes ({@code Long.MAX_VALUE}: none). */
    public long budget() {
        return budget;
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        Objects.requireNonNull(access, "access");
        RangeCheck.check(address, length, pageSize);
        synchronized (this) {
            if (closed) {
                throw new DeviceException("ucx device is closed");
            }
            Budget.newRanges(counts, address, address + length, budget, "ucx registration budget", "registered",
                    ResourceExhaustedException::new);
            if (!Mincore.isMapped(address, length)) {
                throw new UnmappedMemoryException(address, length);
            }
            UcxMemory memory;
            try {
                memory = context.map(address, length, prot(access));
            } catch (UcxException e) {
                if (e.status() == Ucp.ERR_NO_MEMORY || e.status() == Ucp.ERR_NO_RESOURCE) {
                    throw new ResourceExhaustedException("ucp_mem_map is out of resources: "
                            + counts.coveredBytes() + " bytes registered, " + length + " more requested", e);
                }
                throw new DeviceException("ucp_mem_map failed for " + length + " bytes at 0x"
                        + Long.toHexString(address), e);
            }
            counts.increment(address, address + length);
            peakBytes = Math.max(peakBytes, counts.coveredBytes());
            UcxRegion region = new UcxRegion(address, length, access, newKey(), Keys.next(), memory);
            live.put(region.localKey(), region);
            return region;
        }
    }

    @Override
    public void deregister(MemoryRegion region) {
        synchronized (this) {
            if (!(region instanceof UcxRegion ucx) || live.get(ucx.localKey()) != ucx) {
                return;
            }
            live.remove(ucx.localKey());
            counts.decrement(ucx.address(), ucx.end());
            try {
                ucx.memory().close();
            } catch (UcxException e) {
                throw new DeviceException("ucp_mem_unmap failed for " + ucx, e);
            }
        }
    }

    @Override
    public synchronized long registeredBytes() {
        return counts.coveredBytes();
    }

    /** Number of live registrations (UCX memory handles). */
    public synchronized int registrationCount() {
        return live.size();
    }

    /**
     * Most bytes registered at once (as {@link #registeredBytes()} counts them) since the device
     * was made or {@link #resetPeakRegisteredBytes()} was last called.
     */
    public synchronized long peakRegisteredBytes() {
        return peakBytes;
    }

    /** Starts measuring the peak anew from what is registered now. */
    public synchronized void resetPeakRegisteredBytes() {
        peakBytes = counts.coveredBytes();
    }

    /** True when {@code region} is a live registration of this device. */
    public synchronized boolean holds(MemoryRegion region) {
        return region instanceof UcxRegion ucx && live.get(ucx.localKey()) == ucx;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            List<UcxRegion> regions = List.copyOf(live.values());
            live.clear();
            counts.clear();
            for (UcxRegion region : regions) {
                region.memory().close();
            }
            if (ownsContext) {
                context.close();
            }
        }
    }

    private static int prot(Access access) {
        int prot = Ucp.PROT_LOCAL_READ;
        if (access.localWrite()) {
            prot |= Ucp.PROT_LOCAL_WRITE;
        }
        if (access.remoteRead()) {
            prot |= Ucp.PROT_REMOTE_READ;
        }
        if (access.remoteWrite()) {
            prot |= Ucp.PROT_REMOTE_WRITE;
        }
        return prot;
    }

    private long newKey() {
        long key;
        do {
            key = Keys.next();
        } while (live.containsKey(key));
        return key;
    }

    /**
     * Configures a {@link UcxDevice}; what no setter gives comes from the {@code memreg.ucx.*}
     * properties, read by {@link #build()}.
     */
    public static final class Builder {
        private UcxContext context;
        private Long budget; // null: BUDGET_PROP_NAME, else BUDGET_DEFAULT

        private Builder() {
        }

        /** The context to map into (stays open when the device closes); default: the device's own. */
        public Builder context(UcxContext context) {
            this.context = Objects.requireNonNull(context, "context");
            return this;
        }

        /** Most distinct bytes registered at once; default none. */
        public Builder budget(long bytes) {
            this.budget = bytes;
            return this;
        }

        /** Reads the properties, validates the settings and creates the device (and its context, if it owns one). */
        public UcxDevice build() {
            budget = Settings.orElse(budget, () -> Settings.bytes(BUDGET_PROP_NAME, BUDGET_DEFAULT));
            if (budget <= 0) {
                throw new IllegalArgumentException("budget must be positive: " + budget);
            }
            return new UcxDevice(this);
        }
    }
}
