package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Polls for a condition another thread or process makes true, failing the test when it does not within a bound. */
public final class Await {
    private Await() {
    }

    /** Returns once {@code condition} holds; fails naming {@code what} after {@code timeout}. */
    public static void until(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() - deadline < 0, "timed out waiting for: " + what);
            Thread.sleep(1);
        }
    }
}
