package org.memreg.jmh;

import java.util.concurrent.TimeUnit;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a monitor costs munmap, and how soon the cache knows: sampled per call, so JMH reports
 * the median and p99. {@code monitor} is {@code userfaultfd} or {@code hooks} (a fork each: in
 * the userfaultfd fork no hooks are installed, so its unwatched munmap is the plain baseline).
 * <ul>
 *   <li>{@code munmapUnwatched}: munmap of a 64 KiB buffer nobody registered (the baseline; with
 *       the hooks installed it pays the handler's filter);</li>
 *   <li>{@code munmapWatched}: the same munmap of a registered, watched buffer: with userfaultfd
 *       the caller sleeps until the monitor's reader has read the event; with the hooks the
 *       handler publishes the range before the call;</li>
 *   <li>{@code munmapToInvalid}: from calling munmap on a held registration until its holder sees
 *       {@code isValid()} turn false (the event read and applied; with the hooks, drained by
 *       {@code isValid()} itself).</li>
 * </ul>
 * Each invocation maps, touches and (for the watched cases) registers a fresh buffer first,
 * outside the measurement.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class UnmapBenchmark {
    static final long LENGTH = 64 * 1024;

    /** The cache with the monitor, for the whole run. */
    @State(Scope.Thread)
    public static class Fixture {
        @Param({"userfaultfd", "hooks"})
        String monitor = "userfaultfd";
        SimulatedNic nic;
        RegistrationCache cache;

        @Setup(Level.Trial)
        public void setUp() {
            nic = SimulatedNic.builder().free().build();
            cache = RegistrationCache.builder(nic).monitor(MemoryMonitors.named(monitor, "monitor")).statsName(null)
                    .build();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            cache.close();
            nic.close();
        }
    }

    static long mapTouched() {
        long address = Mman.mapAnonymous(LENGTH);
        Mman.segment(address, LENGTH).fill((byte) 1);
        return address;
    }

    /** A fresh, touched buffer per invocation that nobody registered (the fixture installs the monitor). */
    @State(Scope.Thread)
    public static class Unwatched {
        long address;

        @Setup(Level.Invocation)
        public void map(Fixture fixture) {
            address = mapTouched();
        }
    }

    /** A fresh buffer registered (so watched) and released: cached, unused. */
    @State(Scope.Thread)
    public static class Watched {
        long address;

        @Setup(Level.Invocation)
        public void register(Fixture fixture) {
            address = mapTouched();
            fixture.cache.acquire(address, LENGTH, Access.ALL).close();
        }
    }

    /** A fresh buffer registered and still held. */
    @State(Scope.Thread)
    public static class Held {
        long address;
        Registration registration;

        @Setup(Level.Invocation)
        public void register(Fixture fixture) {
            address = mapTouched();
            registration = fixture.cache.acquire(address, LENGTH, Access.ALL);
        }
    }

    @Benchmark
    public void munmapUnwatched(Unwatched buffer) {
        Mman.munmap(buffer.address, LENGTH);
    }

    @Benchmark
    public void munmapWatched(Watched buffer) {
        Mman.munmap(buffer.address, LENGTH);
    }

    @Benchmark
    public boolean munmapToInvalid(Held buffer) {
        Mman.munmap(buffer.address, LENGTH);
        boolean valid;
        while ((valid = buffer.registration.isValid())) {
            Thread.onSpinWait();
        }
        buffer.registration.close();
        return valid;
    }
}
