package org.memreg.cli.bench;

/**
 * Times one point of a sweep: {@link #running()} is asked once per batch of operations, reads the
 * clock and tells the tracker how far along the point is (at most every 50 ms, so drawing the bar
 * costs nothing measurable).
 */
final class PointTimer {
    private static final long SHOW_EVERY_NANOS = 50_000_000;

    private final Tracker tracker;
    private final String label;
    private final long nanos;
    private long began;
    private long now;
    private long shown;

    /** A timer of {@code nanos} for the point called {@code label}; starts now. */
    PointTimer(Tracker tracker, String label, long nanos) {
        this.tracker = tracker;
        this.label = label;
        this.nanos = nanos;
        restart();
    }

    /** Starts the time over (after a warm-up). */
    void restart() {
        began = System.nanoTime();
        now = began;
        shown = began;
    }

    /** True while the time is not up. */
    boolean running() {
        now = System.nanoTime();
        if (now - shown > SHOW_EVERY_NANOS) {
            shown = now;
            tracker.show((double) (now - began) / nanos, label);
        }
        return now - began < nanos;
    }

    /** Nanoseconds from the start to the last {@link #running()}. */
    long elapsed() {
        return now - began;
    }
}
