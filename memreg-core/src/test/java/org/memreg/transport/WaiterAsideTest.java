package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * How long the progress thread stays aside after waiters drove ({@link Waiters#asideNanos}): a wait
 * spin from when it saw the last driver leave, and not at all once nobody drove for that long.
 */
class WaiterAsideTest {
    private static final long SPIN = 2_000_000;

    private final Waiters waiters = new Waiters(null, SPIN); // asideNanos() needs no engine
    private final long start = System.nanoTime();

    @Test
    void shouldNotStayAsideBeforeAnyoneDrove() {
        assertEquals(0, waiters.asideNanos(start));
    }

    @Test
    void shouldStayAsideForTheWaitSpinFromWhenItSawADriverLeave() {
        waiters.driveEnded();
        assertEquals(SPIN, waiters.asideNanos(start));
        assertEquals(SPIN / 4, waiters.asideNanos(start + 3 * SPIN / 4), "no driver since: the rest of the spin");
        assertEquals(0, waiters.asideNanos(start + SPIN));
        assertEquals(0, waiters.asideNanos(start + 5 * SPIN), "nobody drove since: the thread drives");
    }

    @Test
    void shouldStartTheSpinAgainForEachDriverItSees() {
        waiters.driveEnded();
        assertEquals(SPIN, waiters.asideNanos(start));
        waiters.driveEnded();
        assertEquals(SPIN, waiters.asideNanos(start + SPIN / 2), "counted from this look");
        assertEquals(SPIN / 2, waiters.asideNanos(start + SPIN));
    }

    @Test
    void shouldStayAsideForAWaiterACompletionWoke() {
        waiters.asideNanos(start);
        waiters.wokeWaiter();
        assertEquals(SPIN, waiters.asideNanos(start + 10 * SPIN));
    }

    @Test
    void shouldNeverStayAsideWhenSpinningIsOff() {
        Waiters off = new Waiters(null, 0);
        off.driveEnded();
        assertEquals(0, off.asideNanos(start));
    }
}
