package org.memreg.cli.workload;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MemoryRegion;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcessVm;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * An MPI-style sender on the simulated NIC: register, transfer (the NIC reads the buffer),
 * complete; buffers reused with a skewed pattern (a few hot, many cold), and every so often one
 * is freed and a new one allocated at the same address, as malloc would (seed 000).
 *
 * <p>Freed memory comes back at the old address but, as on a busy system, in other physical
 * frames: a ballast mapping takes the frames just freed first. Without that the kernel tends to
 * hand the same frame straight back, and a stale registration would go unnoticed by luck.
 */
public final class ReuseWorkload {
    private final long messageSize;
    private final int buffers;
    private final int reallocateOneIn;
    private final long seed;

    /**
     * @param messageSize     bytes per message (buffers are this, rounded up to pages)
     * @param buffers         distinct buffers the sender cycles through
     * @param reallocateOneIn on average one message in this many frees and reallocates its buffer
     *                        first (0: never)
     * @param seed            the random pattern's seed
     */
    public ReuseWorkload(long messageSize, int buffers, int reallocateOneIn, long seed) {
        if (messageSize <= 0 || buffers <= 0 || reallocateOneIn < 0) {
            throw new IllegalArgumentException("message size and buffers must be positive, reallocation rate >= 0");
        }
        this.messageSize = messageSize;
        this.buffers = buffers;
        this.reallocateOneIn = reallocateOneIn;
        this.seed = seed;
    }

    /**
     * Runs {@code strategy} for {@code durationNanos} (or {@code maxOperations} messages, whichever
     * comes first) on a fresh simulated NIC; {@code progress} receives the elapsed nanoseconds now
     * and then.
     *
     * @throws org.memreg.linux.NotAvailableException for {@link Strategy#MEMREG} where userfaultfd
     *     is unavailable
     */
    public WorkloadResult run(Strategy strategy, long durationNanos, long maxOperations, LongConsumer progress) {
        long length = Math.ceilDiv(messageSize, 4096) * 4096;
        long[] addresses = new long[buffers];
        SplittableRandom random = new SplittableRandom(seed);
        try (SimulatedNic nic = SimulatedNic.builder().strict(false).build();
             RegistrationCache cache = strategy == Strategy.REGISTER_EVERY_TIME ? null
                     : RegistrationCache.builder(nic).statsName("demo-" + strategy.name().toLowerCase())
                       .monitor(strategy == Strategy.MEMREG ? UserfaultfdMonitor.open() : MemoryMonitor.NONE)
                       .build();
             Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < buffers; i++) {
                addresses[i] = Mman.mapAnonymous(length);
                touch(addresses[i], length, i);
            }
            MemorySegment wire = arena.allocate(messageSize, 4096); // where the NIC "sends" to
            long peak = 0;
            long operations = 0;
            long reallocations = 0;
            long began = System.nanoTime();
            long now = began;
            try {
                while (now - began < durationNanos && operations < maxOperations) {
                    int i = skewed(random);
                    if (reallocateOneIn > 0 && random.nextInt(reallocateOneIn) == 0) {
                        addresses[i] = reallocate(addresses[i], length, operations);
                        reallocations++;
                    }
                    boolean sample = (operations & 63) == 0;
                    long pinned = send(strategy, nic, cache, addresses[i], wire, sample);
                    operations++;
                    if (sample) {
                        peak = Math.max(peak, pinned);
                        now = System.nanoTime();
                        if ((operations & 4095) == 0) {
                            progress.accept(now - began);
                        }
                    }
                }
                long elapsed = System.nanoTime() - began;
                peak = Math.max(peak, nic.registeredBytes());
                long hits = cache == null ? 0 : cache.stats().hits();
                long misses = cache == null ? operations : cache.stats().misses();
                return new WorkloadResult(strategy, messageSize, operations, elapsed, hits, misses,
                        nic.registrations(), peak, reallocations, nic.staleTransfers());
            } finally {
                if (cache != null) {
                    cache.close();
                }
                for (long address : addresses) {
                    Mman.munmap(address, length);
                }
            }
        }
    }

    /** One message; returns the NIC's pinned bytes while it was registered when {@code sample}, else 0. */
    private long send(Strategy strategy, SimulatedNic nic, RegistrationCache cache, long address,
                      MemorySegment wire, boolean sample) {
        if (strategy == Strategy.REGISTER_EVERY_TIME) {
            MemoryRegion region = nic.register(address & -4096, Math.ceilDiv(messageSize, 4096) * 4096, Access.LOCAL_WRITE);
            try {
                transfer(nic, region.localKey(), address, wire);
                return sample ? nic.registeredBytes() : 0;
            } finally {
                nic.deregister(region);
            }
        }
        try (Registration registration = cache.acquire(address, messageSize, Access.LOCAL_WRITE)) {
            transfer(nic, registration.localKey(), address, wire);
            return sample ? nic.registeredBytes() : 0;
        }
    }

    /**
     * The NIC reads the buffer. A stale transfer moves no data in the simulation (the old frame is
     * out of reach); a real NIC would still move it, from the wrong page, so the work of a good
     * transfer (the frame check and the copy the simulated NIC does) is spent here too, to keep the
     * strategies' rates comparable.
     */
    private void transfer(SimulatedNic nic, long key, long address, MemorySegment wire) {
        if (nic.read(key, address, wire) == SimulatedNic.Transfer.STALE) {
            Pagemap.read(address, (int) Math.ceilDiv(wire.byteSize(), 4096));
            ProcessVm.readSelf(address, wire);
        }
    }

    /** Hot buffers first: index {@code buffers * u^3} for uniform u (about half the sends hit the first 1/8). */
    private int skewed(SplittableRandom random) {
        double u = random.nextDouble();
        return Math.min(buffers - 1, (int) (buffers * u * u * u));
    }

    /** free() then malloc() that lands at the same address, in other physical frames. */
    private static long reallocate(long address, long length, long value) {
        long ballast = Mman.mapAnonymous(length);
        try {
            Mman.munmap(address, length);
            touch(ballast, length, 0); // takes the frames just freed
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
            touch(fresh, length, value);
            return fresh;
        } finally {
            Mman.munmap(ballast, length);
        }
    }

    private static void touch(long address, long length, long value) {
        MemorySegment segment = Mman.segment(address, length);
        for (long offset = 0; offset < length; offset += 4096) {
            segment.set(java.lang.foreign.ValueLayout.JAVA_LONG, offset, value);
        }
    }
}
