package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A {@code ucp_context}: reads UCX's configuration ({@code UCX_*} environment variables, then the
 * overrides given here), initialises libucp with {@code ucp_init_version(1, 13, ...)} for tag
 * matching and RMA, and maps memory.
 *
 * <p><b>Mapped memory and close.</b> UCX aborts the process when a context is cleaned up while
 * memory is still mapped; this class therefore tracks every handle it maps and {@link #close()}
 * unmaps what is left before {@code ucp_cleanup}. Closing twice is harmless; mapping after close
 * throws {@link IllegalStateException}.
 *
 * <p>Thread-safe: mapping and unmapping serialise on this object (the context is also created
 * with {@code mt_workers_shared}).
 */
public final class UcxContext implements AutoCloseable {
    private static final Set<String> OFF = Set.of("n", "no", "off", "0", "false");
    private final long handle;
    private final Map<String, String> config;
    private final Map<Long, UcxMemory> mapped = new HashMap<>();
    private boolean closed;

    private UcxContext(long handle, Map<String, String> config) {
        this.handle = handle;
        this.config = config;
    }

    /**
     * Creates a context with UCX's configuration overridden by {@code config} (names without the
     * {@code UCX_} prefix, such as {@code NET_DEVICES=lo} or {@code TLS=tcp,sm}).
     *
     * @throws UcxUnavailableException when libucx0 is not installed
     * @throws UcxException when UCX refuses the configuration or cannot initialise
     * @throws IllegalArgumentException for {@code UNIFIED_MODE=y}: memreg's check of peers' worker
     *         addresses reads UCX's default format (the environment's {@code UCX_UNIFIED_MODE} is
     *         overridden); and for {@code PROTO_INDIRECT_ID} other than {@code on}: UCP then hands
     *         peers its endpoints' and requests' addresses as their ids, and follows what comes
     *         back, which memreg's TCP guard refuses; and for {@code PROTO_ENABLE=y}: the TCP guard
     *         reads the frames of UCP's first protocols, and a rendezvous put over TCP reaches a
     *         receive buffer by them only ({@code ExposedMemory}). The environment's {@code
     *         UCX_PROTO_INDIRECT_ID} and {@code UCX_PROTO_ENABLE} are overridden too.
     */
    public static UcxContext create(Map<String, String> config) {
        return create(config, false);
    }

    /**
     * As {@link #create(Map)}; with {@code wakeup} the context also has {@code UCP_FEATURE_WAKEUP},
     * so that its workers can sleep on an event descriptor ({@link UcxWorker#eventFd()}).
     */
    public static UcxContext create(Map<String, String> config, boolean wakeup) {
        UcxNative.require();
        Map<String, String> copy = new LinkedHashMap<>(config);
        String unified = copy.getOrDefault("UNIFIED_MODE", "n");
        if (!isOff(unified)) {
            throw new IllegalArgumentException("UNIFIED_MODE=" + unified + ": memreg checks peers' worker addresses"
                    + " in UCX's default format, which unified mode changes");
        }
        copy.put("UNIFIED_MODE", "n"); // over UCX_UNIFIED_MODE in the environment too (AddressGuard)
        String indirect = copy.getOrDefault("PROTO_INDIRECT_ID", "on");
        if (!indirect.equalsIgnoreCase("on")) {
            throw new IllegalArgumentException("PROTO_INDIRECT_ID=" + indirect + ": memreg has UCP name its endpoints"
                    + " and requests to peers by indirect ids, which it looks up, not by their addresses");
        }
        copy.put("PROTO_INDIRECT_ID", "on"); // TcpGuard refuses a direct id: this process issues none
        String protocols = copy.getOrDefault("PROTO_ENABLE", "n");
        if (!isOff(protocols)) {
            throw new IllegalArgumentException("PROTO_ENABLE=" + protocols + ": memreg's TCP guard knows the frames"
                    + " of UCP's first protocols, and which receive buffer a rendezvous over TCP puts into by them");
        }
        copy.put("PROTO_ENABLE", "n"); // over UCX_PROTO_ENABLE too: ExposedMemory follows their receives
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            Ucp.check("ucp_config_read", Ucp.configRead(0, 0, out.address()));
            long cfg = Ucp.readLong(out);
            try {
                for (Map.Entry<String, String> e : copy.entrySet()) {
                    int status = Ucp.configModify(cfg, arena.allocateFrom(e.getKey()).address(),
                            arena.allocateFrom(e.getValue()).address());
                    if (status != Ucp.OK) {
                        throw new UcxException("ucp_config_modify", status, e.getKey() + "=" + e.getValue());
                    }
                }
                MemorySegment params = arena.allocate(UcxLayouts.PARAMS);
                UcxLayouts.putLong(params, UcxLayouts.PARAMS, "field_mask",
                        Ucp.PARAM_FIELD_FEATURES | Ucp.PARAM_FIELD_MT_WORKERS_SHARED | Ucp.PARAM_FIELD_NAME);
                UcxLayouts.putLong(params, UcxLayouts.PARAMS, "features",
                        Ucp.FEATURE_TAG | Ucp.FEATURE_RMA | (wakeup ? Ucp.FEATURE_WAKEUP : 0));
                UcxLayouts.putInt(params, UcxLayouts.PARAMS, "mt_workers_shared", 1);
                UcxLayouts.putLong(params, UcxLayouts.PARAMS, "name", arena.allocateFrom("memreg").address());
                Ucp.check("ucp_init_version", Ucp.initVersion(params.address(), cfg, out.address()));
                return new UcxContext(Ucp.readLong(out), Map.copyOf(copy));
            } finally {
                Ucp.configRelease(cfg);
            }
        }
    }

    /** Whether a UCX boolean setting's value says no. */
    private static boolean isOff(String value) {
        return OFF.contains(value.toLowerCase(Locale.ROOT));
    }

    /** The raw {@code ucp_context_h}. */
    public long handle() {
        checkOpen();
        return handle;
    }

    /** The configuration overrides this context was created with. */
    public Map<String, String> config() {
        return config;
    }

    /**
     * Maps (registers) existing memory {@code [address, address + length)} with {@code prot}
     * ({@link Ucp#PROT_LOCAL_READ} etc.; 0 lets UCX choose).
     */
    public UcxMemory map(long address, long length, int prot) {
        return map(address, length, prot, 0);
    }

    /**
     * Allocates {@code length} bytes with UCX ({@code UCP_MEM_MAP_ALLOCATE}) and maps them: memory
     * that shared-memory transports can reach directly (fast RMA), unlike a plain buffer.
     */
    public UcxMemory allocate(long length, int prot) {
        return map(0, length, prot, Ucp.MEM_MAP_ALLOCATE);
    }

    private UcxMemory map(long address, long length, int prot, int flags) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive: " + length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(UcxLayouts.MEM_MAP_PARAMS);
            long mask = Ucp.MEM_MAP_PARAM_FIELD_ADDRESS | Ucp.MEM_MAP_PARAM_FIELD_LENGTH
                    | Ucp.MEM_MAP_PARAM_FIELD_FLAGS | (prot != 0 ? Ucp.MEM_MAP_PARAM_FIELD_PROT : 0);
            UcxLayouts.putLong(params, UcxLayouts.MEM_MAP_PARAMS, "field_mask", mask);
            UcxLayouts.putLong(params, UcxLayouts.MEM_MAP_PARAMS, "address", address);
            UcxLayouts.putLong(params, UcxLayouts.MEM_MAP_PARAMS, "length", length);
            UcxLayouts.putInt(params, UcxLayouts.MEM_MAP_PARAMS, "flags", flags);
            UcxLayouts.putInt(params, UcxLayouts.MEM_MAP_PARAMS, "prot", prot);
            MemorySegment out = arena.allocate(JAVA_LONG);
            synchronized (this) {
                checkOpen();
                int status = Ucp.memMap(handle, params.address(), out.address());
                if (status != Ucp.OK) {
                    throw new UcxException("ucp_mem_map", status, String.format("%d bytes at 0x%x%s", length,
                            address, flags == Ucp.MEM_MAP_ALLOCATE ? " (allocate)" : ""));
                }
                long memh = Ucp.readLong(out);
                MemorySegment attr = arena.allocate(UcxLayouts.MEM_ATTR);
                UcxLayouts.putLong(attr, UcxLayouts.MEM_ATTR, "field_mask",
                        Ucp.MEM_ATTR_FIELD_ADDRESS | Ucp.MEM_ATTR_FIELD_LENGTH);
                int query = Ucp.memQuery(memh, attr.address());
                long mappedAddress = query == Ucp.OK ? UcxLayouts.getLong(attr, UcxLayouts.MEM_ATTR, "address") : address;
                long mappedLength = query == Ucp.OK ? UcxLayouts.getLong(attr, UcxLayouts.MEM_ATTR, "length") : length;
                UcxMemory memory = new UcxMemory(this, memh, mappedAddress, mappedLength, flags == Ucp.MEM_MAP_ALLOCATE,
                        prot);
                mapped.put(memh, memory);
                return memory;
            }
        }
    }

    /** Unmaps; harmless when already unmapped (or unmapped by close). */
    synchronized void unmap(UcxMemory memory) {
        if (mapped.remove(memory.memh(), memory)) {
            ExposedMemory.withdraw(memory);
            Ucp.check("ucp_mem_unmap", Ucp.memUnmap(handle, memory.memh()));
        }
    }

    /** Packs the remote key of {@code memory}: the bytes a peer unpacks to reach it; exposes it. */
    synchronized byte[] packRkey(UcxMemory memory) {
        checkOpen();
        if (!mapped.containsKey(memory.memh())) {
            throw new IllegalStateException("memory is unmapped: " + memory);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG, 2);
            Ucp.check("ucp_rkey_pack", Ucp.rkeyPack(handle, memory.memh(), out.address(), out.address() + 8));
            long buffer = out.getAtIndex(JAVA_LONG, 0);
            long size = out.getAtIndex(JAVA_LONG, 1);
            try {
                ExposedMemory.expose(memory); // before any peer can have the key
                return MemorySegment.ofAddress(buffer).reinterpret(size).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            } finally {
                Ucp.rkeyBufferRelease(buffer);
            }
        }
    }

    /** Number of mappings still held. */
    public synchronized int mappedCount() {
        return mapped.size();
    }

    /** True once closed. */
    public synchronized boolean isClosed() {
        return closed;
    }

    /** Unmaps what is still mapped, then cleans the context up. Closing twice is harmless. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            List<UcxMemory> left = new ArrayList<>(mapped.values());
            mapped.clear();
            for (UcxMemory memory : left) {
                ExposedMemory.withdraw(memory);
                Ucp.memUnmap(handle, memory.memh()); // best effort: the context goes anyway
            }
            ExposedMemory.withdrawReceives(handle); // a receive its workers left unfinished
            Ucp.cleanup(handle);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("UCX context is closed");
        }
    }

    @Override
    public String toString() {
        return "UcxContext[0x" + Long.toHexString(handle) + " " + Objects.toString(config) + "]";
    }
}
