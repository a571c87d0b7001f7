package org.memreg.cli.bench;

/** Where a sweep reports its progress, point by point (the command draws a bar from it). */
public interface Tracker {
    /** A tracker that shows nothing (warm-ups). */
    Tracker NONE = new Tracker() {
        @Override
        public void show(double fraction, String label) {
        }

        @Override
        public void pointDone(String label) {
        }
    };

    /** {@code fraction} (0..1) of the current point is done. */
    void show(double fraction, String label);

    /** The current point is finished. */
    void pointDone(String label);
}
