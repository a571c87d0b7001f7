package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.MlockDevice;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The miss path against calling the device directly, for the same work: a cache limited to one
 * entry alternating between two 64 KiB buffers misses every time (register the new one, evict
 * and deregister the old one); {@code direct} registers and deregisters the same buffers itself.
 * The difference is what the cache adds on a miss. Run with the no-op device (cache cost alone)
 * and with mlock (real kernel pinning).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class MissBenchmark {
    static final long BUFFER_SIZE = 64 * 1024;

    @Param({"noop", "mlock"})
    String device;
    Arena arena;
    Device dev;
    RegistrationCache cache;
    MemorySegment[] segments;
    int nextForCache;
    int nextForDevice;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofConfined();
        segments = ResidentBuffers.allocate(arena, 2, BUFFER_SIZE);
        dev = device.equals("noop") ? new NoopDevice() : MlockDevice.builder().build();
        cache = RegistrationCache.builder(dev).maxEntries(1).build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (cache.stats().hits() != 0) {
            throw new IllegalStateException("expected only misses: " + cache.stats());
        }
        cache.close();
        dev.close();
        arena.close();
    }


    @Benchmark
    public long cacheMissAndEvict() {
        try (var registration = cache.acquire(segments[nextForCache ^= 1].address(), BUFFER_SIZE, Access.LOCAL_WRITE)) {
            return registration.localKey();
        }
    }

    @Benchmark
    public long direct() {
        MemoryRegion region = dev.register(segments[nextForDevice ^= 1].address(), BUFFER_SIZE, Access.LOCAL_WRITE);
        dev.deregister(region);
        return region.localKey();
    }
}
