package org.memreg.odp;

import java.time.Duration;
import java.util.Objects;
import org.memreg.config.Settings;
import org.memreg.odp.OdpRegion.WindowMemory;
import org.memreg.transport.Node;

/**
 * Configures an {@link OdpRegion} ({@link OdpRegion#builder}). What no setter gives comes from
 * its property, read by {@link #build()}, else its default.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setter</th><th>property</th><th>default</th></tr>
 *   <tr><td>{@link #lease}</td><td>{@value #LEASE_PROP_NAME} (ms)</td><td>{@value #LEASE_DEFAULT_MS} ms:
 *       a peer that does not acknowledge an invalidation within it is cut off</td></tr>
 *   <tr><td>{@link #windowMemory}</td><td>{@value #WINDOW_MEMORY_PROP_NAME}</td><td>{@code ucx_shared}</td></tr>
 * </table>
 */
public final class OdpRegionBuilder {
    public static final String LEASE_PROP_NAME = "memreg.odp.leaseMillis";
    public static final long LEASE_DEFAULT_MS = 5_000;
    public static final String WINDOW_MEMORY_PROP_NAME = "memreg.odp.windowMemory";
    public static final WindowMemory WINDOW_MEMORY_DEFAULT = WindowMemory.UCX_SHARED;

    private final Node node;
    private final int region;
    private final long bytes;
    private Duration lease; // null until set: the property, else the default
    private WindowMemory windowMemory;

    OdpRegionBuilder(Node node, int region, long bytes) {
        this.node = Objects.requireNonNull(node, "node");
        this.region = region;
        this.bytes = bytes;
    }

    /** How long a peer has to acknowledge an invalidation before it is cut off. */
    public OdpRegionBuilder lease(Duration lease) {
        this.lease = Objects.requireNonNull(lease, "lease");
        return this;
    }

    /** What the region's window memory is (see {@link WindowMemory}). */
    public OdpRegionBuilder windowMemory(WindowMemory memory) {
        this.windowMemory = Objects.requireNonNull(memory, "memory");
        return this;
    }

    /**
     * Reads the properties of the settings no setter gave, validates everything and allocates the region.
     *
     * @throws IllegalArgumentException for a size or lease that is not positive, or a bad property
     *     (the message names it and its value)
     * @throws IllegalStateException when the node already has a region of this number
     */
    public OdpRegion build() {
        lease = Settings.orElse(lease, () -> Duration.ofMillis(Settings.longValue(LEASE_PROP_NAME, LEASE_DEFAULT_MS)));
        windowMemory = Settings.orElse(windowMemory,
                () -> Settings.enumValue(WINDOW_MEMORY_PROP_NAME, WINDOW_MEMORY_DEFAULT));
        return OdpRegion.open(node, bytes, region, lease, windowMemory);
    }
}
