package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** {@link Await} waits out a stray interrupt and fails at its own bound. */
class AwaitTest {
    @Test
    void shouldWaitOnThroughAnInterruptUntilTheConditionHolds() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        CountDownLatch waiting = new CountDownLatch(1);
        Thread waiter = Thread.currentThread();
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                waiting.await();
                Thread.sleep(20);
                waiter.interrupt();
                Thread.sleep(20);
                done.set(true);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Await.until(() -> {
            waiting.countDown();
            return done.get();
        }, Duration.ofSeconds(30), "the other thread's flag");
        assertTrue(done.get(), "returned only once the condition held");
        assertFalse(Thread.interrupted(), "the stray interrupt was taken by the wait");
        other.join();
    }

    @Test
    void shouldFailNamingWhatItWaitedForAtTheTimeout() {
        AssertionFailedError failure = assertThrows(AssertionFailedError.class,
                () -> Await.until(() -> false, Duration.ofMillis(20), "nothing"));
        assertTrue(failure.getMessage().contains("timed out waiting for: nothing"), failure.getMessage());
    }
}
