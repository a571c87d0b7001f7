package org.memreg.util;

/**
 * The seed of a randomized test: {@code -Dmemreg.test.seed=N} if given, else a fresh one. Printed
 * with the property that repeats the run, so that a failure in a log can be replayed.
 */
public final class TestSeeds {
    private TestSeeds() {
    }

    /** The seed for {@code what} (the test, and whatever else tells its runs apart), printed. */
    public static long seed(String what) {
        long seed = Long.getLong("memreg.test.seed", System.nanoTime());
        System.out.printf("%s seed %d (-Dmemreg.test.seed=%d)%n", what, seed, seed);
        return seed;
    }
}
