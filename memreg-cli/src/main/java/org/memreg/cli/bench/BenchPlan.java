package org.memreg.cli.bench;

import java.util.List;

/**
 * The grids and budgets of one {@code memreg bench} run: {@link #standard} (a few minutes on two
 * cores) or {@link #quick} (a few seconds, for tests).
 *
 * @param pointNanos         measuring time per point of the reuse and eviction sweeps; hit and
 *                           miss points get a quarter of it (they are cheap to sample)
 * @param hitBuffers         distinct buffers of the hit sweep
 * @param hitSizes           buffer sizes of the hit sweep
 * @param reuseSizes         message sizes of the reuse sweep
 * @param reuseBuffers       distinct buffers the reuse sender cycles through
 * @param reallocateOneIn    one reuse message in this many reallocates its buffer first (0: never)
 * @param evictionFractions  pin budgets of the eviction sweep, as fractions of the working set
 * @param evictionBuffers    buffers in the eviction sweep's working set
 * @param evictionBufferSize bytes per buffer of that working set
 * @param unmapSamples       munmaps measured per series of the unmap sweep
 * @param crossThreads       thread counts of the cross-thread sweep
 * @param crossAcquires      racing acquires per row of the cross-thread sweep, shared by its threads
 * @param maxMemory          most bytes of buffers one point may map; bigger points are skipped
 * @param seed               seed of every random pattern
 */
public record BenchPlan(long pointNanos, List<Integer> hitBuffers, List<Long> hitSizes, List<Long> reuseSizes,
                        int reuseBuffers, int reallocateOneIn, List<Double> evictionFractions,
                        int evictionBuffers, long evictionBufferSize, int unmapSamples, List<Integer> crossThreads,
                        int crossAcquires, long maxMemory, long seed) {
    /** Seconds per point of the standard plan. */
    public static final double STANDARD_SECONDS = 2;
    /** Seconds per point of the quick plan. */
    public static final double QUICK_SECONDS = 0.05;

    private static final List<Double> FRACTIONS = List.of(0.125, 0.25, 0.5, 0.75, 1.0, 1.25);

    public BenchPlan {
        hitBuffers = List.copyOf(hitBuffers);
        hitSizes = List.copyOf(hitSizes);
        reuseSizes = List.copyOf(reuseSizes);
        evictionFractions = List.copyOf(evictionFractions);
        crossThreads = List.copyOf(crossThreads);
    }

    /** The full sweeps: about three minutes with the default two seconds per point. */
    public static BenchPlan standard(double seconds, long maxMemory, int reallocateOneIn, long seed) {
        return new BenchPlan(nanos(seconds), List.of(1, 16, 256, 1024, 4096), List.of(4096L, 65536L, 1L << 20),
                List.of(4096L, 16384L, 65536L, 262144L, 1L << 20), 32, reallocateOneIn, FRACTIONS,
                256, 65536, 20_000, List.of(2, 4, 8), 100_000, maxMemory, seed);
    }

    /** Tiny sweeps for tests: the same kinds of rows, few of them, in a few seconds. */
    public static BenchPlan quick(double seconds, long maxMemory, int reallocateOneIn, long seed) {
        return new BenchPlan(nanos(seconds), List.of(1, 4, 16), List.of(4096L, 65536L), List.of(4096L, 65536L),
                32, reallocateOneIn, FRACTIONS, 32, 16384, 300, List.of(1, 2), 60, maxMemory, seed);
    }

    /** This plan with {@code samples} munmaps per series in the unmap sweep. */
    public BenchPlan withUnmapSamples(int samples) {
        return new BenchPlan(pointNanos, hitBuffers, hitSizes, reuseSizes, reuseBuffers, reallocateOneIn,
                evictionFractions, evictionBuffers, evictionBufferSize, samples, crossThreads, crossAcquires, maxMemory,
                seed);
    }

    private static long nanos(double seconds) {
        return (long) (seconds * 1e9);
    }
}
