package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.memreg.cache.CacheStats;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.monitor.MemoryMonitor;
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
 * The miss path with and without another thread calling {@code stats()} in a loop: a cache of at
 * most 64 entries cycling through 65 buffers misses (and evicts) on every acquire, on the no-op
 * device, so the figure is the cache's own miss cost. {@code statsReader=loop} runs a thread that
 * calls {@code stats()} as fast as it can (each call sums the 64 entries); {@code busy} runs a
 * thread that spins on data of its own for as long, the baseline for what a second busy core
 * costs by itself on this machine (two vCPUs of a VM share more than their caches); {@code other}
 * runs a thread calling {@code stats()} as fast as it can on another cache of the same shape (64
 * entries, nobody missing), the same work on data the misses do not touch. {@code stats()} takes no
 * lock the miss path holds, and sums over the entries at most once per 50 µs (a call sooner parks),
 * so {@code loop} should measure as {@code other} within noise; what is left between them is the
 * cache lines the reader loads and the misses write. The reader's call count is printed at the end.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class StatsWhileMissingBenchmark {
    static final long BUFFER_SIZE = 64 * 1024;
    static final int ENTRIES = 64;

    @Param({"none", "busy", "other", "loop"})
    String statsReader;
    Arena arena;
    RegistrationCache cache;
    /** {@code other}'s cache: full, idle. */
    RegistrationCache idle;
    MemorySegment[] segments;
    int next;
    Thread reader;
    volatile boolean reading;
    volatile long statsCalls;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        segments = ResidentBuffers.allocate(arena, ENTRIES + 1, BUFFER_SIZE);
        cache = RegistrationCache.builder(new NoopDevice()).maxEntries(ENTRIES).monitor(MemoryMonitor.NONE).build();
        if (statsReader.equals("other")) {
            idle = RegistrationCache.builder(new NoopDevice()).maxEntries(ENTRIES).monitor(MemoryMonitor.NONE).build();
            for (MemorySegment segment : ResidentBuffers.allocate(arena, ENTRIES, BUFFER_SIZE)) {
                idle.acquire(segment.address(), BUFFER_SIZE, Access.LOCAL_WRITE).close();
            }
        }
        if (!statsReader.equals("none")) {
            RegistrationCache read = idle != null ? idle : cache;
            boolean callStats = !statsReader.equals("busy");
            reading = true;
            reader = Thread.ofPlatform().daemon().name("stats-" + statsReader).start(() -> {
                long calls = 0;
                long sink = 0;
                while (reading) {
                    sink += callStats ? read.stats().misses() : spin(sink);
                    calls++;
                }
                statsCalls = calls + (sink == -1 ? 1 : 0);
            });
        }
    }

    /** Work on nothing the miss path touches, of the order of a {@code stats()} call (about three times as long here). */
    private static long spin(long seed) {
        long x = seed | 1;
        for (int i = 0; i < 1_000; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
        return x & 1;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        if (reader != null) {
            reading = false;
            reader.join();
            String what = statsReader.equals("busy") ? "spins" : "stats() calls";
            System.out.println(what + " by the reader: " + statsCalls);
        }
        CacheStats stats = cache.stats();
        if (stats.hits() != 0) {
            throw new IllegalStateException("expected only misses: " + stats);
        }
        cache.close();
        if (idle != null) {
            idle.close();
        }
        arena.close();
    }

    @Benchmark
    public long missAndEvict() {
        int buffer = next;
        next = next == ENTRIES ? 0 : next + 1;
        try (var registration = cache.acquire(segments[buffer].address(), BUFFER_SIZE, Access.LOCAL_WRITE)) {
            return registration.localKey();
        }
    }
}
