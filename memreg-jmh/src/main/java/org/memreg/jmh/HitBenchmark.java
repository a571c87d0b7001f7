package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.monitor.MemoryMonitors;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The hit path: acquire + release of a cached 64 KiB buffer, cycling through {@code buffers}
 * distinct buffers in a fixed pseudo-random order, on one and on two threads. Compare with
 * {@code memreg-jmh/native/ucx-rcache/run.sh} (UCX's ucs_rcache_get + region_put) in the same run.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class HitBenchmark {
    static final long BUFFER_SIZE = 64 * 1024;

    @State(Scope.Benchmark)
    public static class Cache {
        @Param({"1", "1024"})
        int buffers;
        /**
         * The memory monitor: the hit path must cost the same with it on (the hooks: one acquire
         * load), except in strict mode, which asks the kernel on every hit.
         */
        @Param({"none", "userfaultfd", "hooks", "hooks+userfaultfd", "strict"})
        String monitor = "none";
        Arena arena;
        MlockDevice device;
        RegistrationCache cache;
        MemorySegment[] segments;
        final AtomicInteger threadSeeds = new AtomicInteger();

        @Setup(Level.Trial)
        public void setUp() {
            arena = Arena.ofShared();
            segments = ResidentBuffers.allocate(arena, buffers, BUFFER_SIZE);
            device = MlockDevice.builder().build();
            cache = RegistrationCache.builder(device).monitor(MemoryMonitors.named(monitor, "monitor")).build();
            for (MemorySegment segment : segments) {
                cache.acquire(segment, Access.LOCAL_WRITE).close(); // warm: every later acquire hits
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (cache.stats().misses() != buffers) {
                throw new IllegalStateException("expected only hits after warm-up: " + cache.stats());
            }
            cache.close();
            device.close();
            arena.close();
        }
    }

    @State(Scope.Thread)
    public static class Cursor {
        long[] addresses;
        int next;

        @Setup(Level.Trial)
        public void setUp(Cache cache) {
            int[] order = ResidentBuffers.order(cache.buffers, 42 + cache.threadSeeds.getAndIncrement());
            addresses = new long[order.length];
            for (int i = 0; i < order.length; i++) {
                addresses[i] = cache.segments[order[i]].address();
            }
        }

        long nextAddress() {
            long address = addresses[next];
            next = next + 1 == addresses.length ? 0 : next + 1;
            return address;
        }
    }

    @Benchmark
    @Threads(1)
    public long hitOneThread(Cache cache, Cursor cursor) {
        return acquireRelease(cache, cursor);
    }

    @Benchmark
    @Threads(2)
    public long hitTwoThreads(Cache cache, Cursor cursor) {
        return acquireRelease(cache, cursor);
    }

    private static long acquireRelease(Cache cache, Cursor cursor) {
        try (Registration registration = cache.cache.acquire(cursor.nextAddress(), BUFFER_SIZE, Access.LOCAL_WRITE)) {
            return registration.localKey();
        }
    }
}
