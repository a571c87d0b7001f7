package org.memreg.device;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.memreg.config.Settings;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mincore;
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;
import org.memreg.util.RangeCheck;

/**
 * A simulated RDMA NIC: a {@link Device} for demos, tests and simulation at scale, with the
 * costs, limits and failure modes of a real one, and one thing a real NIC cannot do: it notices
 * when it would move data from or to the wrong physical page.
 *
 * <h2>Registration</h2>
 * Registering faults the pages in the way a NIC driver's {@code get_user_pages} with write does
 * ({@code madvise(MADV_POPULATE_WRITE)}; for registrations without write rights on read-only
 * mappings, {@code MADV_POPULATE_READ}), then records each page's physical frame number from
 * {@code /proc/self/pagemap} in the translation table. Unmapped memory gives
 * {@link UnmappedMemoryException}; write rights on a read-only mapping a {@link DeviceException}.
 * The table is finite: beyond {@link Builder#maxPages} page entries or {@link Builder#maxRegions}
 * regions, register throws {@link ResourceExhaustedException} naming use and limit. Overlapping
 * regions take separate entries; {@link #registeredBytes()} counts each page once. Every region
 * gets random, unguessable 64-bit local and remote keys; keys of deregistered regions are refused.
 *
 * <h2>Cost model</h2>
 * Registration costs {@link Builder#registrationNanos} plus {@link Builder#pageNanos} per page,
 * deregistration {@link Builder#deregistrationNanos}; the time is spent for real (a busy spin on
 * {@link System#nanoTime()}) so that benchmarks see it. Zero disables a cost.
 *
 * <h2>DMA</h2>
 * {@link #read} (the device reads registered memory: a send, or a peer's RDMA read) and
 * {@link #write} (the device writes it: a receive, or a peer's RDMA write) check, in order:
 * <ol>
 * <li>the key names a live region, the transfer lies inside it, and the rights allow it (local
 *     key: read always, write with LOCAL_WRITE; remote key: REMOTE_READ or REMOTE_WRITE) — else
 *     {@link DmaRejectedException} and no memory is touched;</li>
 * <li>every touched page is still present and still the frame recorded at registration — else
 *     the registration is <em>stale</em>: the transfer is not performed (the old frame cannot be
 *     reached), {@link #staleTransfers()} counts it, and the call returns {@link Transfer#STALE}
 *     or, in {@link Builder#strict strict} mode, throws {@link StaleTransferException}.</li>
 * </ol>
 * The copy goes through {@code process_vm_readv/writev} on the own pid, so a page unmapped in
 * between gives EFAULT (counted as stale; the buffer may then hold part of the data) rather
 * than a crash. A transfer racing with the deregistration of its region may or may not run.
 *
 * <h2>What "stale" means here, and its limits</h2>
 * A real NIC holds a long-term pin: the kernel may not move a pinned page. This simulation pins
 * nothing, and even {@code mlock}ed pages may be moved to another frame by compaction, THP
 * collapse or NUMA balancing, or be swapped out. The simulated NIC reports any such move as
 * stale, although a real NIC would have prevented it; tests that expect frames to stay put must
 * allow for that. Frame numbers are only visible to root (CAP_SYS_ADMIN); otherwise
 * {@link #detectsStalePages()} is false, a warning is logged once, and only pages that are no
 * longer present are detected, not pages replaced by other present memory.
 *
 * <p>Thread safe. DMA takes no lock; register and deregister serialise on the table.
 */
public final class SimulatedNic implements Device {
    /** Property: nanoseconds per registration. */
    public static final String REGISTRATION_NANOS_PROP_NAME = "memreg.nic.registrationNanos";
    /** Default: 5 µs per registration (the order of an ibv_reg_mr command). */
    public static final long REGISTRATION_NANOS_DEFAULT = 5_000;
    /** Property: nanoseconds per page registered. */
    public static final String PAGE_NANOS_PROP_NAME = "memreg.nic.pageNanos";
    /** Default: 100 ns per page (pinning plus writing the translation entry). */
    public static final long PAGE_NANOS_DEFAULT = 100;
    /** Property: nanoseconds per deregistration. */
    public static final String DEREGISTRATION_NANOS_PROP_NAME = "memreg.nic.deregistrationNanos";
    /** Default: 2 µs per deregistration. */
    public static final long DEREGISTRATION_NANOS_DEFAULT = 2_000;
    /** Property: translation-table page entries. */
    public static final String MAX_PAGES_PROP_NAME = "memreg.nic.maxPages";
    /** Default: 1,048,576 page entries (4 GiB of 4 KiB pages). */
    public static final long MAX_PAGES_DEFAULT = 1L << 20;
    /** Property: regions in the translation table. */
    public static final String MAX_REGIONS_PROP_NAME = "memreg.nic.maxRegions";
    /** Default: 65,536 regions. */
    public static final long MAX_REGIONS_DEFAULT = 1L << 16;
    /** Property: whether stale transfers throw ({@code true}) or return STALE. */
    public static final String STRICT_PROP_NAME = "memreg.nic.strict";
    /** Default: false, stale transfers return {@link Transfer#STALE} (demos keep running). */
    public static final boolean STRICT_DEFAULT = false;

    private static final System.Logger LOG = System.getLogger(SimulatedNic.class.getName());
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    /** Outcome of a DMA transfer. */
    public enum Transfer {
        /** The data moved. */
        OK,
        /** The registration is stale; no data moved (or part of it, if the copy faulted). */
        STALE
    }

    private final long registrationNanos;
    private final long pageNanos;
    private final long deregistrationNanos;
    private final boolean strict;
    private final long pageSize = SysConf.pageSize();
    private final TranslationTable table;
    private final DmaEngine dma;
    private final LongAdder registrations = new LongAdder();
    private final LongAdder deregistrations = new LongAdder();

    private SimulatedNic(Builder config) {
        this.registrationNanos = config.registrationNanos;
        this.pageNanos = config.pageNanos;
        this.deregistrationNanos = config.deregistrationNanos;
        this.strict = config.strict;
        this.table = new TranslationTable(config.maxPages, config.maxRegions);
        this.dma = new DmaEngine(table, pageSize, config.strict, Pagemap.pfnsVisible());
        if (!Pagemap.pfnsVisible() && WARNED.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "simulated NIC: /proc/self/pagemap hides frame numbers"
                    + " (not root): stale detection only sees pages that are no longer present");
        }
    }

    /** A builder with the settings of the {@code memreg.nic.*} system properties. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "simulated-nic";
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        Objects.requireNonNull(access, "access");
        RangeCheck.check(address, length, pageSize);
        int pages = Math.toIntExact(length / pageSize);
        long[] frames = pinAndTranslate(address, length, access, pages);
        spin(registrationNanos + pages * pageNanos);
        NicRegion region = table.add(address, length, access, frames);
        registrations.increment();
        return region;
    }

    @Override
    public void deregister(MemoryRegion region) {
        if (table.remove(region)) {
            spin(deregistrationNanos);
            deregistrations.increment();
        }
    }

    /**
     * The device reads {@code dst.byteSize()} bytes of registered memory at {@code address} into
     * {@code dst}: a send from the region, or a peer's RDMA read with the remote key.
     *
     * @return {@link Transfer#OK}, or {@link Transfer#STALE} (non-strict mode) when the region
     *     no longer maps the frames it registered
     * @throws DmaRejectedException for an unknown key, a range outside the region or missing rights
     * @throws StaleTransferException in strict mode, instead of returning STALE
     * @throws IllegalStateException when the arena of {@code dst} is closed
     */
    public Transfer read(long key, long address, MemorySegment dst) {
        return dma.transfer(key, address, dst, false);
    }

    /**
     * The device writes {@code src} into registered memory at {@code address}: a receive into
     * the region, or a peer's RDMA write with the remote key. Results and exceptions as {@link #read}.
     */
    public Transfer write(long key, long address, MemorySegment src) {
        return dma.transfer(key, address, src, true);
    }

    /** True when stale pages are detected by frame number; false when frames are hidden (not root). */
    public boolean detectsStalePages() {
        return Pagemap.pfnsVisible();
    }

    /** True when stale transfers throw {@link StaleTransferException}. */
    public boolean strict() {
        return strict;
    }

    @Override
    public long registeredBytes() {
        return table.registeredBytes();
    }

    /** Successful registrations so far. */
    public long registrations() {
        return registrations.sum();
    }

    /** Deregistrations so far (repeated ones not counted). */
    public long deregistrations() {
        return deregistrations.sum();
    }

    /** Transfers that moved data. */
    public long transfers() {
        return dma.transfers.sum();
    }

    /** Bytes moved by successful transfers. */
    public long bytesTransferred() {
        return dma.bytes.sum();
    }

    /** Transfers found stale (returned STALE or threw). */
    public long staleTransfers() {
        return dma.stale.sum();
    }

    /** Page entries in use in the translation table (overlapping regions each count). */
    public long pagesInTable() {
        return table.pages();
    }

    /** Regions in the translation table. */
    public long regionsInTable() {
        return table.regions();
    }

    /** Drops every region (their keys are refused from now on). Closing twice is harmless. */
    @Override
    public void close() {
        table.close();
    }

    // get_user_pages(FOLL_WRITE) stand-in: fault the pages in, then record their frames.
    private long[] pinAndTranslate(long address, long length, Access access, int pages) {
        for (int attempt = 0; ; attempt++) {
            populate(address, length, access);
            long[] frames = Pagemap.read(address, pages);
            boolean allPresent = true;
            for (long frame : frames) {
                allPresent &= Pagemap.isPresent(frame);
            }
            if (allPresent) {
                return frames;
            }
            if (!Mincore.isMapped(address, length)) {
                throw new UnmappedMemoryException(address, length);
            }
            if (attempt == 2) { // reclaimed as fast as we fault it in: give up honestly
                throw new DeviceException(String.format("pages of 0x%x + %d do not stay present", address, length));
            }
        }
    }

    private static void populate(long address, long length, Access access) {
        int errno = Madvise.tryMadvise(address, length, Madvise.MADV_POPULATE_WRITE);
        boolean writable = access.localWrite() || access.remoteWrite();
        if (!writable && (errno == Errno.EFAULT || errno == Errno.EINVAL)) {
            errno = Madvise.tryMadvise(address, length, Madvise.MADV_POPULATE_READ); // read-only mapping
        }
        if (errno == Errno.ENOMEM) {
            throw new UnmappedMemoryException(address, length);
        }
        if (errno != 0) {
            throw new DeviceException(String.format("cannot fault in 0x%x + %d for %s", address, length, access),
                    new LinuxException("madvise", errno));
        }
    }

    private static void spin(long nanos) {
        if (nanos <= 0) {
            return;
        }
        long start = System.nanoTime();
        while (System.nanoTime() - start < nanos) {
            Thread.onSpinWait();
        }
    }

    /**
     * Configures a {@link SimulatedNic}; what no setter gives comes from the {@code memreg.nic.*}
     * properties, read by {@link #build()}.
     */
    public static final class Builder {
        // null until a setter gives a value
        private Long registrationNanos;
        private Long pageNanos;
        private Long deregistrationNanos;
        private Long maxPages;
        private Long maxRegions;
        private Boolean strict;

        private Builder() {
        }

        /** Nanoseconds spent per registration (default 5000). */
        public Builder registrationNanos(long nanos) {
            this.registrationNanos = nanos;
            return this;
        }

        /** Nanoseconds spent per page registered (default 100). */
        public Builder pageNanos(long nanos) {
            this.pageNanos = nanos;
            return this;
        }

        /** Nanoseconds spent per deregistration (default 2000). */
        public Builder deregistrationNanos(long nanos) {
            this.deregistrationNanos = nanos;
            return this;
        }

        /** Page entries in the translation table (default 1,048,576). */
        public Builder maxPages(long pages) {
            this.maxPages = pages;
            return this;
        }

        /** Regions in the translation table (default 65,536). */
        public Builder maxRegions(long regions) {
            this.maxRegions = regions;
            return this;
        }

        /** Whether stale transfers throw {@link StaleTransferException} (default false). */
        public Builder strict(boolean strict) {
            this.strict = strict;
            return this;
        }

        /** Cost model without costs: every cost 0 (fast tests). */
        public Builder free() {
            return registrationNanos(0).pageNanos(0).deregistrationNanos(0);
        }

        /** Reads the properties, validates the settings and creates the NIC. */
        public SimulatedNic build() {
            registrationNanos = Settings.orElse(registrationNanos,
                    () -> Settings.longValue(REGISTRATION_NANOS_PROP_NAME, REGISTRATION_NANOS_DEFAULT));
            pageNanos = Settings.orElse(pageNanos, () -> Settings.longValue(PAGE_NANOS_PROP_NAME, PAGE_NANOS_DEFAULT));
            deregistrationNanos = Settings.orElse(deregistrationNanos,
                    () -> Settings.longValue(DEREGISTRATION_NANOS_PROP_NAME, DEREGISTRATION_NANOS_DEFAULT));
            maxPages = Settings.orElse(maxPages, () -> Settings.longValue(MAX_PAGES_PROP_NAME, MAX_PAGES_DEFAULT));
            maxRegions = Settings.orElse(maxRegions, () -> Settings.longValue(MAX_REGIONS_PROP_NAME, MAX_REGIONS_DEFAULT));
            strict = Settings.orElse(strict, () -> Settings.bool(STRICT_PROP_NAME, STRICT_DEFAULT));
            if (registrationNanos < 0 || pageNanos < 0 || deregistrationNanos < 0) {
                throw new IllegalArgumentException("costs must be >= 0 ns");
            }
            if (maxPages <= 0 || maxRegions <= 0) {
                throw new IllegalArgumentException("maxPages and maxRegions must be positive");
            }
            return new SimulatedNic(this);
        }
    }
}
