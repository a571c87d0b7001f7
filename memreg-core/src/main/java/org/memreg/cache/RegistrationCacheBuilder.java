package org.memreg.cache;

import java.util.Objects;
import java.util.function.LongSupplier;
import org.memreg.config.Settings;
import org.memreg.device.Device;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.MemoryMonitors;

/**
 * Configures a {@link RegistrationCache}; made by {@link RegistrationCache#builder(Device)}.
 * Every setting starts from its {@code memreg.cache.*} system property, else its default, and
 * can be overridden by the setter of the same name. {@link #build()} validates them once.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setter</th><th>property</th><th>default</th></tr>
 *   <tr><td>{@link #maxBytes}</td><td>{@value #MAX_BYTES_PROP_NAME}</td>
 *       <td>unlimited: only the device's own limit applies (for an
 *       {@link org.memreg.device.MlockDevice} its {@link org.memreg.device.PinBound}: RLIMIT_MEMLOCK, or
 *       a quarter of memory where the kernel sets no bound, as for root)</td></tr>
 *   <tr><td>{@link #maxEntries}</td><td>{@value #MAX_ENTRIES_PROP_NAME}</td><td>unlimited</td></tr>
 *   <tr><td>{@link #merge}</td><td>{@value #MERGE_PROP_NAME}</td><td>{@value #MERGE_DEFAULT}</td></tr>
 *   <tr><td>{@link #keepUnused}</td><td>{@value #KEEP_UNUSED_PROP_NAME}</td><td>{@value #KEEP_UNUSED_DEFAULT}</td></tr>
 *   <tr><td>{@link #softLimits}</td><td>{@value #SOFT_LIMITS_PROP_NAME}</td><td>{@value #SOFT_LIMITS_DEFAULT}</td></tr>
 *   <tr><td>{@link #monitor}</td><td>{@value #MONITOR_PROP_NAME}</td><td>{@value #MONITOR_DEFAULT}</td></tr>
 *   <tr><td>{@link #statsName}</td><td>{@value #STATS_NAME_PROP_NAME}</td><td>{@value #STATS_NAME_DEFAULT}</td></tr>
 * </table>
 */
public final class RegistrationCacheBuilder {
    /** Most bytes the cache keeps registered (sizes like {@code 64m} accepted). */
    public static final String MAX_BYTES_PROP_NAME = "memreg.cache.maxBytes";
    /** Most registrations the cache keeps. */
    public static final String MAX_ENTRIES_PROP_NAME = "memreg.cache.maxEntries";
    /** Whether a partly overlapping request registers the union with its neighbours. */
    public static final String MERGE_PROP_NAME = "memreg.cache.merge";
    /**
     * Which memory monitor a cache gets when the builder is not given one, by
     * {@link org.memreg.monitor.MonitorMode} name: {@code auto} (hooks and userfaultfd where both
     * work, else what does, with a log line saying so), {@code hooks+userfaultfd}, {@code hooks},
     * {@code userfaultfd}, {@code strict} (each fails if unavailable) or {@code none}.
     */
    public static final String MONITOR_PROP_NAME = "memreg.cache.monitor";
    /** Default of {@link #MONITOR_PROP_NAME}. */
    public static final String MONITOR_DEFAULT = "auto";
    /**
     * The name of the cache's counter set in the process's counters file, which {@code memreg stat}
     * reads (see {@link org.memreg.stat.CountersFile}); {@code none} keeps the counters in ordinary
     * memory, where {@code stats()} reads them all the same.
     */
    public static final String STATS_NAME_PROP_NAME = "memreg.cache.statsName";
    /** Default of {@link #STATS_NAME_PROP_NAME}. */
    public static final String STATS_NAME_DEFAULT = "cache";
    /** Default of {@link #MAX_BYTES_PROP_NAME} and {@link #MAX_ENTRIES_PROP_NAME}: no limit. */
    public static final long UNLIMITED = Long.MAX_VALUE;
    /** Default of {@link #MERGE_PROP_NAME}. */
    public static final boolean MERGE_DEFAULT = true;
    /**
     * Whether a registration its last holder released stays registered for the next acquire
     * (lazy deregistration, the point of a cache) or is deregistered at once.
     */
    public static final String KEEP_UNUSED_PROP_NAME = "memreg.cache.keepUnused";
    /** Default of {@link #KEEP_UNUSED_PROP_NAME}. */
    public static final boolean KEEP_UNUSED_DEFAULT = true;
    /**
     * Whether {@code maxBytes} and {@code maxEntries} may be exceeded by registrations that are
     * all held (see {@link #softLimits}).
     */
    public static final String SOFT_LIMITS_PROP_NAME = "memreg.cache.softLimits";
    /** Default of {@link #SOFT_LIMITS_PROP_NAME}: the limits are hard. */
    public static final boolean SOFT_LIMITS_DEFAULT = false;

    final Device device;
    // null until a setter gives a value; build() reads the property (else the default) of the rest
    Long maxBytes;
    Long maxEntries;
    Boolean merge;
    Boolean keepUnused;
    Boolean softLimits;
    LongSupplier clock = new ReleaseClock();
    long censusIntervalNanos = EntryTally.CENSUS_INTERVAL_NANOS;
    String statsName;
    boolean statsNameSet;
    MemoryMonitor monitor; // null: made from MONITOR_PROP_NAME at build

    RegistrationCacheBuilder(Device device) {
        this.device = Objects.requireNonNull(device, "device");
    }

    /** Most bytes kept registered; unused entries are evicted (least recently used first) to stay within it. */
    public RegistrationCacheBuilder maxBytes(long maxBytes) {
        this.maxBytes = maxBytes;
        return this;
    }

    /** Most registrations kept; unused entries are evicted to stay within it. */
    public RegistrationCacheBuilder maxEntries(long maxEntries) {
        this.maxEntries = maxEntries;
        return this;
    }

    /**
     * With merge on, a request that partly overlaps cached registrations registers the union of
     * them all, so later requests anywhere in it hit. With merge off it registers just the range
     * asked for. Either way the overlapped registrations leave the index (unused ones are
     * deregistered, held ones stay valid for their holders).
     */
    public RegistrationCacheBuilder merge(boolean merge) {
        this.merge = merge;
        return this;
    }

    /**
     * With keepUnused on (the default) a released registration stays cached until evicted,
     * trimmed or invalidated. With it off the cache keeps only what is held: the last release
     * deregisters, so every acquire that is not shared with a current holder registers anew
     * (registration per use, for comparison, or where nothing may stay pinned between uses).
     */
    public RegistrationCacheBuilder keepUnused(boolean keepUnused) {
        this.keepUnused = keepUnused;
        return this;
    }

    /**
     * With soft limits, {@code maxBytes} and {@code maxEntries} bound what the cache keeps: a miss
     * that finds no unused registration to evict registers anyway, going over them while the
     * held registrations are held, and later misses evict back within them (as UCX's rcache
     * does). With hard limits (the default) such a miss fails with a
     * {@link org.memreg.device.ResourceExhaustedException}. Either way the device's own limit
     * (RLIMIT_MEMLOCK, the NIC's) is hard. For users whose holders wait on one another, such as a
     * transport's chunks in flight between two nodes: waiting for room there can deadlock.
     */
    public RegistrationCacheBuilder softLimits(boolean softLimits) {
        this.softLimits = softLimits;
        return this;
    }

    /**
     * The monitor that tells the cache when memory under its registrations changes; the cache
     * owns it from now on and closes it. Default: {@value #MONITOR_PROP_NAME}.
     */
    public RegistrationCacheBuilder monitor(MemoryMonitor monitor) {
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        return this;
    }

    /**
     * Publishes the counters under {@code name} for {@code memreg stat}; {@code null} or
     * {@code "none"} publishes nothing (the counters live in ordinary memory).
     */
    public RegistrationCacheBuilder statsName(String name) {
        this.statsName = name;
        this.statsNameSet = true;
        return this;
    }

    /**
     * The least time between two sums over the entries ({@link RegistrationCache#stats()}); tests
     * that compare the statistics after every step make it 0.
     */
    RegistrationCacheBuilder censusInterval(long nanos) {
        this.censusIntervalNanos = nanos;
        return this;
    }

    /** The clock that orders releases for LRU eviction; tests make it deterministic. */
    RegistrationCacheBuilder clock(LongSupplier clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Reads the properties of the settings no setter gave, validates everything and makes the cache.
     *
     * @throws IllegalArgumentException when a limit is not positive or below one page, or a
     *     property is not what it should be (the message names the property and its value)
     */
    public RegistrationCache build() {
        maxBytes = Settings.orElse(maxBytes, () -> Settings.bytes(MAX_BYTES_PROP_NAME, UNLIMITED));
        maxEntries = Settings.orElse(maxEntries, () -> Settings.longValue(MAX_ENTRIES_PROP_NAME, UNLIMITED));
        merge = Settings.orElse(merge, () -> Settings.bool(MERGE_PROP_NAME, MERGE_DEFAULT));
        keepUnused = Settings.orElse(keepUnused, () -> Settings.bool(KEEP_UNUSED_PROP_NAME, KEEP_UNUSED_DEFAULT));
        softLimits = Settings.orElse(softLimits, () -> Settings.bool(SOFT_LIMITS_PROP_NAME, SOFT_LIMITS_DEFAULT));
        if (!statsNameSet) {
            statsName = System.getProperty(STATS_NAME_PROP_NAME, STATS_NAME_DEFAULT);
            statsNameSet = true;
        }
        long pageSize = device.pageSize();
        if (pageSize <= 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("device " + device.name() + " reports page size " + pageSize);
        }
        if (maxBytes < pageSize) {
            throw new IllegalArgumentException("maxBytes must be at least one page (" + pageSize + "): " + maxBytes);
        }
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be at least 1: " + maxEntries);
        }
        return new RegistrationCache(this, monitor != null ? monitor : MemoryMonitors.fromProperty(MONITOR_PROP_NAME));
    }
}
