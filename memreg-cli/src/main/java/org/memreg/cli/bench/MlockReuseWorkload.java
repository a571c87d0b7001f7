package org.memreg.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.cli.workload.ReuseWorkload;
import org.memreg.cli.workload.Strategy;
import org.memreg.cli.workload.WorkloadResult;
import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;
import org.memreg.device.MlockDevice;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * The {@link ReuseWorkload} sender with real pinning: buffers are mlocked (per message, or through
 * the cache), the "transfer" is a CPU copy of the buffer, and one message in N first frees its
 * buffer and maps a new one at the same address. mlock cannot tell a stale registration from a
 * good one, so {@link WorkloadResult#staleTransfers()} is always 0 here and means "not
 * detectable"; reports show it as not applicable.
 */
public final class MlockReuseWorkload {
    private final long messageSize;
    private final int buffers;
    private final int reallocateOneIn;
    private final long seed;

    /** Parameters as {@link ReuseWorkload#ReuseWorkload(long, int, int, long)}. */
    public MlockReuseWorkload(long messageSize, int buffers, int reallocateOneIn, long seed) {
        if (messageSize <= 0 || buffers <= 0 || reallocateOneIn < 0) {
            throw new IllegalArgumentException("message size and buffers must be positive, reallocation rate >= 0");
        }
        this.messageSize = messageSize;
        this.buffers = buffers;
        this.reallocateOneIn = reallocateOneIn;
        this.seed = seed;
    }

    /**
     * Runs {@code strategy} for {@code durationNanos} on a fresh mlock device; {@code progress}
     * receives the elapsed nanoseconds now and then. {@link Strategy#MEMREG} is the cache with the
     * userfaultfd monitor, {@link Strategy#NAIVE_CACHE} the cache without one.
     *
     * @throws org.memreg.linux.NotAvailableException for {@link Strategy#MEMREG} where userfaultfd
     *     is unavailable
     */
    public WorkloadResult run(Strategy strategy, long durationNanos, LongConsumer progress) {
        long page = SysConf.pageSize();
        long length = Math.ceilDiv(messageSize, page) * page;
        long[] addresses = new long[buffers];
        SplittableRandom random = new SplittableRandom(seed);
        try {
            for (int i = 0; i < buffers; i++) {
                addresses[i] = Mman.mapAnonymous(length);
                Buffers.touch(addresses[i], length, i);
            }
            return run(strategy, durationNanos, progress, addresses, length, random);
        } finally {
            for (long address : addresses) {
                if (address != 0) {
                    Mman.munmap(address, length); // after the cache closed: nothing is pinned any more
                }
            }
        }
    }

    private WorkloadResult run(Strategy strategy, long durationNanos, LongConsumer progress, long[] addresses,
                               long length, SplittableRandom random) {
        try (MlockDevice mlock = MlockDevice.builder().build();
             RegistrationCache cache = strategy == Strategy.REGISTER_EVERY_TIME ? null
                     : RegistrationCache.builder(mlock).statsName(null)
                       .monitor(strategy == Strategy.MEMREG ? UserfaultfdMonitor.open() : MemoryMonitor.NONE)
                       .build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment wire = arena.allocate(messageSize, SysConf.pageSize());
            long peak = 0;
            long operations = 0;
            long reallocations = 0;
            long began = System.nanoTime();
            long now = began;
            while (now - began < durationNanos) {
                int i = Buffers.skewed(random, buffers);
                if (reallocateOneIn > 0 && random.nextInt(reallocateOneIn) == 0) {
                    addresses[i] = reallocate(addresses[i], length, operations);
                    reallocations++;
                }
                send(mlock, cache, addresses[i], length, wire);
                operations++;
                if ((operations & 63) == 0) {
                    peak = Math.max(peak, mlock.registeredBytes());
                    now = System.nanoTime();
                    if ((operations & 4095) == 0) {
                        progress.accept(now - began);
                    }
                }
            }
            long elapsed = System.nanoTime() - began;
            long hits = cache == null ? 0 : cache.stats().hits();
            long misses = cache == null ? operations : cache.stats().misses();
            long registrations = cache == null ? operations : cache.stats().registrations();
            return new WorkloadResult(strategy, messageSize, operations, elapsed, hits, misses,
                    registrations, Math.max(peak, length), reallocations, 0);
        }
    }

    /** Pin, copy the buffer out (the "transfer"), unpin or release. */
    private void send(MlockDevice mlock, RegistrationCache cache, long address, long length, MemorySegment wire) {
        if (cache == null) {
            MemoryRegion region = mlock.register(address, length, Access.LOCAL_WRITE);
            try {
                wire.copyFrom(Mman.segment(address, messageSize));
            } finally {
                mlock.deregister(region);
            }
        } else {
            Registration registration = cache.acquire(address, messageSize, Access.LOCAL_WRITE);
            try {
                wire.copyFrom(Mman.segment(address, messageSize));
            } finally {
                registration.close();
            }
        }
    }

    /** free() then malloc() that lands at the same address. */
    private static long reallocate(long address, long length, long value) {
        Mman.munmap(address, length);
        long fresh;
        try {
            fresh = Mman.mmap(address, length, Mman.PROT_READ | Mman.PROT_WRITE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0);
        } catch (LinuxException e) {
            if (e.errno() != Errno.EEXIST) {
                throw e;
            }
            fresh = Mman.mapAnonymous(length); // someone else took the hole meanwhile
        }
        Buffers.touch(fresh, length, value);
        return fresh;
    }
}
