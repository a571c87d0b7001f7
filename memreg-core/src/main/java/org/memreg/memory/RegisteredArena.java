package org.memreg.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.linux.SysConf;

/**
 * Memory that memreg allocates and registers itself, once (MPI_Alloc_mem style, shared/seeds/003):
 * an {@link Arena} whose segments are fresh anonymous mappings, optionally on huge pages, each
 * registered through the cache when allocated and held until the arena closes.
 *
 * <p>Because memreg owns this memory it knows before anyone else when it goes away: closing the
 * arena first ends the segments' scope (no Java code can touch them any more), then releases
 * each registration, {@linkplain RegistrationCache#invalidate invalidates} its range in the cache
 * and only then unmaps it. So no registration of this memory outlives it even with no memory
 * monitor at all.
 *
 * <p>Thread-safe (a shared arena). Closing twice is harmless.
 */
public final class RegisteredArena implements Arena {
    private record Allocation(Mapping mapping, Registration registration) {}

    private final RegistrationCache cache;
    private final Access access;
    private final HugePages hugePages;
    private volatile Placement placement = (address, length) -> { };
    private final long pageSize = SysConf.pageSize();
    private final Arena scope = Arena.ofShared();
    private final List<Allocation> allocations = new ArrayList<>();
    private long allocatedBytes;
    private boolean closed;

    private RegisteredArena(RegistrationCache cache, Access access, HugePages hugePages) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.access = Objects.requireNonNull(access, "access");
        this.hugePages = Objects.requireNonNull(hugePages, "hugePages");
    }

    /** An arena registering its memory with {@code access} through {@code cache}. */
    public static RegisteredArena of(RegistrationCache cache, Access access, HugePages hugePages) {
        return new RegisteredArena(cache, access, hugePages);
    }

    /**
     * Places every later allocation with {@code placement} (for example binds it to NUMA nodes)
     * between mapping it and registering it.
     *
     * @return this arena
     */
    public RegisteredArena placement(Placement placement) {
        this.placement = Objects.requireNonNull(placement, "placement");
        return this;
    }

    /**
     * Maps, registers and returns {@code byteSize} bytes aligned to {@code byteAlignment} (at least
     * a page; 2 MiB with huge pages). The mapping is rounded up to whole (huge) pages.
     *
     * @throws IllegalArgumentException for a negative size or an alignment that is not a power of two
     * @throws IllegalStateException when the arena is closed, or REQUIRED huge pages are not there
     * @throws org.memreg.device.ResourceExhaustedException when the cache cannot register it
     */
    @Override
    @SuppressWarnings("restricted") // the address is our own fresh mapping of at least byteSize bytes
    public synchronized MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize < 0 || byteAlignment <= 0 || Long.bitCount(byteAlignment) != 1) {
            throw new IllegalArgumentException("bad size " + byteSize + " or alignment " + byteAlignment);
        }
        if (closed) {
            throw new IllegalStateException("registered arena is closed");
        }
        Mapping mapping = Mapping.map(Math.max(byteSize, 1), byteAlignment, pageSize, hugePages);
        Registration registration;
        try {
            placement.place(mapping.address(), mapping.length()); // before registering faults pages in
            registration = cache.acquire(mapping.address(), mapping.length(), access);
        } catch (RuntimeException e) {
            mapping.unmap();
            throw e;
        }
        allocations.add(new Allocation(mapping, registration));
        allocatedBytes += mapping.length();
        return MemorySegment.ofAddress(mapping.address()).reinterpret(byteSize, scope, null);
    }

    /**
     * The registration of the allocation that holds {@code segment} (for its keys).
     *
     * @throws IllegalArgumentException when the segment is not from this arena
     */
    public synchronized Registration registration(MemorySegment segment) {
        for (Allocation allocation : allocations) {
            Mapping m = allocation.mapping();
            if (segment.address() >= m.address() && segment.address() + segment.byteSize() <= m.address() + m.length()) {
                return allocation.registration();
            }
        }
        throw new IllegalArgumentException("segment is not from this arena: " + segment);
    }

    /** What backs the allocation holding {@code segment}. */
    public synchronized Backing backing(MemorySegment segment) {
        for (Allocation allocation : allocations) {
            if (allocation.mapping().address() == segment.address()) {
                return allocation.mapping().backing();
            }
        }
        throw new IllegalArgumentException("segment is not from this arena: " + segment);
    }

    /** Bytes mapped by this arena (whole pages). */
    public synchronized long allocatedBytes() {
        return allocatedBytes;
    }

    @Override
    public MemorySegment.Scope scope() {
        return scope.scope();
    }

    /**
     * Ends the segments' scope, then per allocation: release, invalidate, unmap.
     *
     * @throws IllegalStateException when a thread is inside a native call given one of the
     *     arena's segments (the scope cannot end meanwhile): nothing is released; close again later
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        scope.close(); // first: it throws while a native call holds a segment, and then all stays as it was
        closed = true;
        RuntimeException failure = null;
        for (Allocation allocation : allocations) {
            Mapping m = allocation.mapping();
            try {
                allocation.registration().close();
                if (!cache.isClosed()) {
                    cache.invalidate(m.address(), m.length()); // before the memory goes, not after
                }
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            } finally {
                m.unmap();
            }
        }
        allocations.clear();
        allocatedBytes = 0;
        if (failure != null) {
            throw failure;
        }
    }
}
