package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * How long a driver spins before it gives the worker to the progress thread ({@link Waiters#adapt}):
 * longer while waiters give up just before their message comes, bounded, and back to the
 * configured spin after a wait that spinning could not have shortened.
 */
class WaiterSpinTest {
    private static final long SPIN = 2_000_000;
    private static final long MAX = Waiters.MAX_SPIN_FACTOR * SPIN;

    private final Waiters waiters = new Waiters(null, SPIN); // adapt() needs no engine

    @Test
    void shouldStartAtTheConfiguredSpin() {
        assertEquals(SPIN, waiters.driverSpinNanos());
    }

    @Test
    void shouldDoubleTheSpinWhenTheFutureCameSoonAfterTheWaiterGaveUpUpToItsBound() {
        waiters.adapt(SPIN / 2);
        assertEquals(2 * SPIN, waiters.driverSpinNanos());
        waiters.adapt(SPIN + 1); // sooner than the spin now (2 ms): doubles again
        assertEquals(4 * SPIN, waiters.driverSpinNanos());
        for (int i = 0; i < 10; i++) {
            waiters.adapt(1);
        }
        assertEquals(MAX, waiters.driverSpinNanos(), "never beyond " + Waiters.MAX_SPIN_FACTOR + " wait spins");
    }

    @Test
    void shouldKeepTheSpinWhenTheWaitAfterGivingUpWasLongerThanTheSpinButWithinTheBound() {
        waiters.adapt(SPIN / 2);
        waiters.adapt(3 * SPIN);
        assertEquals(2 * SPIN, waiters.driverSpinNanos());
        waiters.adapt(MAX);
        assertEquals(2 * SPIN, waiters.driverSpinNanos());
    }

    @Test
    void shouldGoBackToTheConfiguredSpinAfterAWaitLongerThanTheLongestSpin() {
        for (int i = 0; i < 5; i++) {
            waiters.adapt(1);
        }
        waiters.adapt(MAX + 1);
        assertEquals(SPIN, waiters.driverSpinNanos());
    }

    @Test
    void shouldNeverSpinWhenSpinningIsOff() {
        Waiters off = new Waiters(null, 0);
        off.adapt(0);
        off.adapt(1);
        assertEquals(0, off.driverSpinNanos());
    }
}
