package org.memreg.cli.workload;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.MlockDevice;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcessVm;
import org.memreg.linux.SysConf;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.UserfaultfdMonitor;

/**
 * An MPI-style sender: register, transfer, complete; buffers reused with a skewed pattern (a few
 * hot, many cold), and every so often one is freed and a new one allocated at the same address,
 * as malloc would (seed 000).
 *
 * <p>Stale transfers are counted twice. The sender knows when it reallocated a buffer, so a
 * transfer through a registration it got before that is stale, whatever the device and user
 * ({@link WorkloadResult#staleTransfers()}): a new registration comes with a new key, so a key
 * seen before the reallocation is an old registration. The simulated NIC also checks physical
 * frames and catches the same transfers independently (freed memory comes back in other frames,
 * see {@link Pages#reallocate}); that needs {@code /proc/self/pagemap}'s frame numbers, which
 * only root sees, and a NIC ({@link WorkloadResult#nicStaleTransfers()} -1 on mlock or without
 * frames).
 */
public final class ReuseWorkload {
    private final long messageSize;
    private final int buffers;
    private final int reallocateOneIn;
    private final long seed;
    private final WorkloadDevice deviceKind;
    private final String statsPrefix;

    /**
     * @param messageSize     bytes per message (buffers are this, rounded up to pages)
     * @param buffers         distinct buffers the sender cycles through
     * @param reallocateOneIn on average one message in this many frees and reallocates its buffer
     *                        first (0: never)
     * @param seed            the random pattern's seed
     * @param device          what to register with
     * @param statsPrefix     the caches publish counters for memreg stat as {@code <prefix>-<strategy>};
     *                        null: not at all
     */
    public ReuseWorkload(long messageSize, int buffers, int reallocateOneIn, long seed, WorkloadDevice device,
                         String statsPrefix) {
        if (messageSize <= 0 || buffers <= 0 || reallocateOneIn < 0) {
            throw new IllegalArgumentException("message size and buffers must be positive, reallocation rate >= 0");
        }
        this.messageSize = messageSize;
        this.buffers = buffers;
        this.reallocateOneIn = reallocateOneIn;
        this.seed = seed;
        this.deviceKind = device;
        this.statsPrefix = statsPrefix;
    }

    /**
     * Runs {@code strategy} for {@code durationNanos} (or {@code maxOperations} messages, whichever
     * comes first) on a fresh device; {@code progress} receives the elapsed nanoseconds now and then.
     *
     * @throws org.memreg.monitor.MonitorUnavailableException for {@link Strategy#MEMREG} where userfaultfd
     *     is unavailable
     */
    public WorkloadResult run(Strategy strategy, long durationNanos, long maxOperations, LongConsumer progress) {
        long length = Math.ceilDiv(messageSize, SysConf.pageSize()) * SysConf.pageSize();
        long[] addresses = new long[buffers];
        SenderStaleness staleness = new SenderStaleness(buffers);
        SplittableRandom random = new SplittableRandom(seed);
        try (Device device = deviceKind == WorkloadDevice.MLOCK ? MlockDevice.builder().build()
                     : SimulatedNic.builder().strict(false).build();
             RegistrationCache cache = strategy == Strategy.REGISTER_EVERY_TIME ? null
                     : RegistrationCache.builder(device)
                       .statsName(statsPrefix == null ? null : statsPrefix + "-" + strategy.name().toLowerCase(Locale.ROOT))
                       .monitor(strategy == Strategy.MEMREG ? UserfaultfdMonitor.open() : MemoryMonitor.NONE)
                       .build();
             Arena arena = Arena.ofConfined()) {
            boolean nic = device instanceof SimulatedNic;
            for (int i = 0; i < buffers; i++) {
                addresses[i] = Mman.mapAnonymous(length);
                Pages.touch(addresses[i], length, i);
            }
            MemorySegment wire = arena.allocate(messageSize, 4096); // where the message goes
            long peak = 0;
            long operations = 0;
            long reallocations = 0;
            long began = System.nanoTime();
            long now = began;
            try {
                while (now - began < durationNanos && operations < maxOperations) {
                    int i = skewed(random, buffers);
                    if (reallocateOneIn > 0 && random.nextInt(reallocateOneIn) == 0) {
                        addresses[i] = Pages.reallocate(addresses[i], length, operations, nic);
                        staleness.reallocated(i);
                        reallocations++;
                    }
                    boolean sample = (operations & 63) == 0;
                    long pinned = send(device, cache, i, addresses[i], length, wire, sample, staleness);
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
                CacheStats stats = cache == null ? null : cache.stats(); // one snapshot: the three agree
                long hits = stats == null ? 0 : stats.hits();
                long misses = stats == null ? operations : stats.misses();
                long registrations = stats == null ? operations : stats.registrations();
                long nicStale = nic && Pagemap.pfnsVisible() ? ((SimulatedNic) device).staleTransfers() : -1;
                return new WorkloadResult(strategy, messageSize, operations, elapsed, hits, misses,
                        registrations, peak, reallocations, staleness.staleTransfers(), nicStale);
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

    /**
     * One message from buffer {@code buffer}; returns the device's pinned bytes while it was
     * registered when {@code sample}, else 0.
     */
    private long send(Device device, RegistrationCache cache, int buffer, long address, long length,
                      MemorySegment wire, boolean sample, SenderStaleness staleness) {
        if (cache == null) {
            MemoryRegion region = device.register(address, length, Access.LOCAL_WRITE);
            try {
                staleness.sentWith(buffer, region.localKey());
                transfer(device, region.localKey(), address, wire);
                return sample ? device.registeredBytes() : 0;
            } finally {
                device.deregister(region);
            }
        }
        try (Registration registration = cache.acquire(address, messageSize, Access.LOCAL_WRITE)) {
            staleness.sentWith(buffer, registration.localKey());
            transfer(device, registration.localKey(), address, wire);
            return sample ? device.registeredBytes() : 0;
        }
    }

    /**
     * Moves the message. The simulated NIC reads the buffer; a stale transfer moves no data there
     * (the old frame is out of reach), but a real NIC would still move it, from the wrong page, so
     * the work of a good transfer (frame check and copy) is spent anyway, to keep the strategies'
     * rates comparable. On mlock, the CPU copies.
     */
    private static void transfer(Device device, long key, long address, MemorySegment wire) {
        if (!(device instanceof SimulatedNic nic)) {
            wire.copyFrom(Mman.segment(address, wire.byteSize()));
        } else if (nic.read(key, address, wire) == SimulatedNic.Transfer.STALE) {
            Pagemap.read(address, (int) Math.ceilDiv(wire.byteSize(), 4096));
            ProcessVm.readSelf(address, wire);
        }
    }

    /**
     * A skewed pick of one of {@code count} buffers: index {@code count * u^3} for uniform u, so
     * about half the picks fall in the first eighth.
     */
    public static int skewed(SplittableRandom random, int count) {
        double u = random.nextDouble();
        return Math.min(count - 1, (int) (count * u * u * u));
    }
}
