package org.memreg.monitor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.UnmappedMemoryException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.testkit.EpochDevice;

/**
 * Threads that keep changing memory and acquiring it, so that one thread's new memory is often
 * at the address another thread has just unmapped. Each cycle maps a buffer and acquires it;
 * for three of four kinds it then changes the memory through libc (madvise DONTNEED, mremap that
 * grows it, mmap MAP_FIXED over it) and acquires the new memory; then unmaps it. Every acquire
 * is of memory newer than the device's clock read just before, so every hit is stale:
 * {@link EpochDevice} tells (as any user), and the simulated NIC's frame check counts stale
 * transfers where frames are visible (root). Also a probe main for a child JVM:
 * {@code main(monitor, threads, cycles, seed)} prints {@code key=value} lines.
 */
final class CrossThreadChurn {
    static final long LENGTH = 8 * 1024;

    /**
     * What happened: acquires, hits on registrations older than their memory, stale transfers the
     * NIC saw, hits in all, and acquires refused because a stale entry overlapping the request
     * was merged into a registration of memory that is gone (only without a monitor).
     */
    record Result(long acquires, long staleHits, long staleTransfers, long hits, long refused) {}

    private CrossThreadChurn() {
    }

    static Result run(MemoryMonitor monitor, int threads, int cycles, long seed) throws InterruptedException {
        try (SimulatedNic nic = SimulatedNic.builder().free().build()) {
            EpochDevice device = new EpochDevice(nic);
            try (RegistrationCache cache = RegistrationCache.builder(device).statsName(null).monitor(monitor).build()) {
                AtomicLong stale = new AtomicLong();
                AtomicLong refused = new AtomicLong();
                AtomicLong acquires = new AtomicLong();
                ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
                List<Thread> all = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    SplittableRandom random = new SplittableRandom(seed + t);
                    all.add(Thread.ofPlatform().start(() -> {
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment wire = arena.allocate(64);
                            for (int i = 0; i < cycles; i++) {
                                acquires.addAndGet(cycle(cache, nic, device, random.nextInt(4), wire, stale, refused));
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }));
                }
                for (Thread thread : all) {
                    thread.join();
                }
                if (!failures.isEmpty()) {
                    throw new AssertionError("a worker failed", failures.peek());
                }
                return new Result(acquires.get(), stale.get(), nic.staleTransfers(), cache.stats().hits(), refused.get());
            }
        }
    }

    private static long cycle(RegistrationCache cache, SimulatedNic nic, EpochDevice device, int kind,
                              MemorySegment wire, AtomicLong stale, AtomicLong refused) {
        long address = touch(Mman.mapAnonymous(LENGTH), LENGTH);
        long length = LENGTH;
        checkedAcquire(cache, nic, device, address, length, wire, stale, refused);
        if (kind != 0) {
            switch (kind) {
                case 1 -> Madvise.madvise(address, LENGTH, Madvise.MADV_DONTNEED);
                case 2 -> {
                    address = Mman.mremap(address, LENGTH, 2 * LENGTH, Mman.MREMAP_MAYMOVE, 0L);
                    length = 2 * LENGTH;
                }
                default -> Mman.mapAnonymousFixed(address, LENGTH);
            }
            touch(address, length);
            checkedAcquire(cache, nic, device, address, length, wire, stale, refused);
        }
        Mman.munmap(address, length);
        return kind == 0 ? 1 : 2;
    }

    /** Acquires memory that is new since the device's clock was read: any hit is stale. */
    private static void checkedAcquire(RegistrationCache cache, SimulatedNic nic, EpochDevice device, long address,
                                       long length, MemorySegment wire, AtomicLong stale, AtomicLong refused) {
        long memoryEpoch = device.now(); // every registration up to here predates this memory
        try (Registration registration = cache.acquire(address, length, Access.ALL)) {
            if (device.registeredAt(registration.localKey()) <= memoryEpoch) {
                stale.incrementAndGet();
            }
            nic.read(registration.localKey(), address, wire); // counts a stale transfer where frames show
        } catch (UnmappedMemoryException e) {
            refused.incrementAndGet(); // merged with a stale neighbour whose memory is gone
        }
    }

    private static long touch(long address, long length) {
        MemoryChange.touch(address, length, address ^ System.nanoTime());
        return address;
    }

    /** Child JVM: {@code monitor threads cycles seed}; prints acquires, stale hits and transfers. */
    public static void main(String[] args) throws Exception {
        MonitorMode mode = MonitorMode.parse(args[0], "monitor");
        Result result = run(MemoryMonitors.open(mode), Integer.parseInt(args[1]), Integer.parseInt(args[2]),
                Long.parseLong(args[3]));
        System.out.println("user=" + System.getProperty("user.name"));
        System.out.println("acquires=" + result.acquires());
        System.out.println("staleHits=" + result.staleHits());
        System.out.println("staleTransfers=" + result.staleTransfers());
        System.out.println("hits=" + result.hits());
        System.out.println("refused=" + result.refused());
    }
}
