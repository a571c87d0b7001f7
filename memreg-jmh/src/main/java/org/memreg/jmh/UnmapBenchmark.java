package org.memreg.jmh;

import java.util.concurrent.TimeUnit;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.monitor.UserfaultfdMonitor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the userfaultfd monitor costs munmap, and how soon the cache knows: sampled per call, so
 * JMH reports the median and p99.
 * <ul>
 *   <li>{@code munmapUnwatched}: munmap of a 64 KiB buffer nobody registered (the baseline);</li>
 *   <li>{@code munmapWatched}: the same munmap of a registered, watched buffer: the caller sleeps
 *       until the monitor's reader has read the event;</li>
 *   <li>{@code munmapToInvalid}: from calling munmap on a held registration until its holder sees
 *       {@code isValid()} turn false (the event read and applied).</li>
 * </ul>
 * Each invocation maps, touches and (for the watched cases) registers a fresh buffer first,
 * outside the measurement.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class UnmapBenchmark {
    static final long LENGTH = 64 * 1024;

    SimulatedNic nic;
    RegistrationCache cache;
    long address;
    Registration held;

    @Setup(Level.Trial)
    public void setUp() {
        nic = SimulatedNic.builder().free().build();
        cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).statsName(null).build();
    }

    @Setup(Level.Invocation)
    public void mapBuffer() {
        address = Mman.mapAnonymous(LENGTH);
        Mman.segment(address, LENGTH).fill((byte) 1);
    }

    @Benchmark
    public void munmapUnwatched() {
        Mman.munmap(address, LENGTH);
    }

    @Benchmark
    public void munmapWatched(WatchedBuffer watched) {
        Mman.munmap(address, LENGTH);
    }

    @Benchmark
    public boolean munmapToInvalid(HeldBuffer buffer) {
        Mman.munmap(address, LENGTH);
        boolean valid;
        while ((valid = held.isValid())) {
            Thread.onSpinWait();
        }
        held.close();
        return valid;
    }

    /** Registers (and so watches) the invocation's buffer, then releases it: cached, unused. */
    @State(Scope.Thread)
    public static class WatchedBuffer {
        @Setup(Level.Invocation)
        public void register(UnmapBenchmark benchmark) {
            benchmark.cache.acquire(benchmark.address, LENGTH, Access.ALL).close();
        }
    }

    /** Registers the invocation's buffer and keeps holding it. */
    @State(Scope.Thread)
    public static class HeldBuffer {
        @Setup(Level.Invocation)
        public void register(UnmapBenchmark benchmark) {
            benchmark.held = benchmark.cache.acquire(benchmark.address, LENGTH, Access.ALL);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cache.close();
        nic.close();
    }
}
