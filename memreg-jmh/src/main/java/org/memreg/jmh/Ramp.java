package org.memreg.jmh;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * A stream's bandwidth over time from a cold start, for {@code bin/bench-warmup}: the bytes
 * completed in consecutive windows of fixed length, each stamped with its end in milliseconds
 * since the JVM started. The steady state is the median window of the run's last quarter; the
 * time to 90 % is the end of the first window at 90 % of it among the first {@value #HELD}
 * windows in a row whose median is at 90 % (a single fast window before a dip does not count: JIT
 * recompilations and GC pauses make the early windows swing).
 */
final class Ramp {
    /** Windows in a row whose median must reach 90 % of the steady state. */
    static final int HELD = 5;
    private final long windowNanos;
    private final LongSupplier clock;
    /** The JVM's start on {@link #clock}. */
    private final long jvmStartNanos;
    private final List<double[]> windows = new ArrayList<>(); // {end ms since JVM start, MiB/s}
    private boolean started;
    private long windowStart;
    private long bytes;
    private long firstNanos;

    /** Windows of {@code windowMillis}; the first {@link #completed} opens the first (its bytes went before). */
    Ramp(long windowMillis) {
        this(windowMillis, System::nanoTime, System.nanoTime() - 1_000_000 * (Instant.now().toEpochMilli()
                - ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli()));
    }

    /** For tests: {@code clock} in nanoseconds, on which the JVM started at {@code jvmStartNanos}. */
    Ramp(long windowMillis, LongSupplier clock, long jvmStartNanos) {
        if (windowMillis <= 0) {
            throw new IllegalArgumentException("window must be positive: " + windowMillis + " ms");
        }
        this.windowNanos = windowMillis * 1_000_000;
        this.clock = clock;
        this.jvmStartNanos = jvmStartNanos;
    }

    /** A message of {@code length} bytes completed now. */
    void completed(long length) {
        long now = clock.getAsLong();
        if (!started) {
            started = true;
            firstNanos = now;
            windowStart = now;
            return;
        }
        bytes += length;
        if (now - windowStart >= windowNanos) {
            windows.add(new double[] {(now - jvmStartNanos) / 1e6, bytes / 1048576.0 / ((now - windowStart) / 1e9)});
            windowStart = now;
            bytes = 0;
        }
    }

    /**
     * One line: the steady state, the time to 90 % of it since the JVM started and since the
     * first message completed, and the windows.
     */
    String report() {
        if (windows.size() < 4 * HELD) {
            throw new IllegalStateException("too short a run for a ramp: " + windows.size() + " windows of "
                    + windowNanos / 1_000_000 + " ms (send more messages)");
        }
        double[] tail = windows.subList(windows.size() * 3 / 4, windows.size()).stream()
                .mapToDouble(w -> w[1]).sorted().toArray();
        double steady = tail[tail.length / 2];
        double[] reached = null;
        for (int i = 0; i + HELD <= windows.size() && reached == null; i++) {
            List<double[]> run = windows.subList(i, i + HELD);
            if (run.stream().mapToDouble(w -> w[1]).sorted().toArray()[HELD / 2] >= 0.9 * steady) {
                reached = run.stream().filter(w -> w[1] >= 0.9 * steady).findFirst().orElseThrow();
            }
        }
        if (reached == null) {
            throw new IllegalStateException("the bandwidth never held 90 % of its steady " + Math.round(steady)
                    + " MiB/s for " + HELD + " windows (send more messages)");
        }
        double firstMillis = (firstNanos - jvmStartNanos) / 1e6;
        return String.format("ramp steady %.0f MiB/s, 90%% at %.0f ms since JVM start, %.0f ms after the first message;"
                + " windows %s", steady, reached[0], reached[0] - firstMillis,
                Arrays.toString(windows.stream().mapToLong(w -> Math.round(w[1])).toArray()));
    }
}
