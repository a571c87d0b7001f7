package org.memreg.jmh;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The ramp's steady state and time to 90 %, on a clock the test moves. */
class RampTest {
    private static final long MIB = 1 << 20;
    private static final long MS = 1_000_000;

    private long now = 500 * MS; // the first message completes 500 ms after the JVM started

    /** One window of 10 ms at {@code mibPerSecond}: ten messages of a tenth each, one per ms. */
    private void window(Ramp ramp, long mibPerSecond) {
        for (int i = 0; i < 10; i++) {
            now += MS;
            ramp.completed(mibPerSecond * MIB / 1000);
        }
    }

    @Test
    void shouldTakeTheFirstHeldRiseAndNotASingleFastWindow() {
        Ramp ramp = new Ramp(10, () -> now, 0);
        ramp.completed(0); // starts the clock at 500 ms
        for (int i = 0; i < 20; i++) {
            window(ramp, i == 5 ? 1000 : 100); // one fast window early, then slow again
        }
        for (int i = 0; i < 40; i++) {
            window(ramp, i % 7 == 3 ? 300 : 1000); // steady with dips
        }
        String report = ramp.report();
        assertTrue(report.startsWith("ramp steady 1000 MiB/s, 90% at 710 ms since JVM start, 210 ms after the first"
                + " message;"), report);
    }

    @Test
    void shouldRefuseTooShortARun() {
        Ramp ramp = new Ramp(10, () -> now, 0);
        ramp.completed(0);
        for (int i = 0; i < 4 * Ramp.HELD - 1; i++) {
            window(ramp, 100);
        }
        assertThrows(IllegalStateException.class, ramp::report);
    }
}
