package org.memreg.cli.bench;

/** One benchmark sweep: a grid of points, each measured, written as {@code <name>.csv} and {@code .png}. */
public interface Sweep {
    /** The file and {@code --only} name: hit, reuse, eviction, unmap. */
    String name();

    /** How many points {@link #run} will report to the tracker. */
    int points();

    /** Measures every point. */
    SweepResult run(Tracker tracker);
}
