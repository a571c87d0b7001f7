package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/** Polls for a condition another thread or process makes true, failing the test when it does not within a bound. */
public final class Await {
    private Await() {
    }

    /**
     * Returns once {@code condition} holds; fails naming {@code what} after {@code timeout}. An
     * interrupt does not end the wait: twice in bin/vm-test's guest a test thread was interrupted
     * here by no code of the suite's, and a wait bounded by its own timeout has no use for one
     * (JUnit's {@code @Timeout} still reports its own: it tells by its task, not by the flag). The
     * interrupt is reported with the threads alive at that moment, to find where it came from.
     */
    public static void until(BooleanSupplier condition, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean reported = false;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() - deadline < 0, "timed out waiting for: " + what);
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                if (!reported) {
                    reported = true;
                    System.out.println("Await: " + Thread.currentThread().getName() + " was interrupted waiting for "
                            + what + "; waiting on. Threads: " + threads());
                }
            }
        }
    }

    /** Every thread's name and state, with the top frames of those running (the interrupter may be one). */
    private static String threads() {
        return Thread.getAllStackTraces().entrySet().stream()
                .map(e -> describe(e.getKey(), e.getValue())).sorted().collect(Collectors.joining(", "));
    }

    private static String describe(Thread thread, StackTraceElement[] stack) {
        String named = thread.getName() + "(" + thread.getState() + ")";
        if (thread.getState() != Thread.State.RUNNABLE || stack.length == 0 || thread == Thread.currentThread()) {
            return named;
        }
        return named + Arrays.stream(stack).limit(6).map(String::valueOf).collect(Collectors.joining(" < ", " at ", ""));
    }
}
