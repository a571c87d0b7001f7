package org.memreg.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PressureTriggerTest {

    @BeforeEach
    void requirePsi() {
        boolean present = MemoryPressure.available();
        if (!present) {
            System.out.println("PressureTriggerTest skipped: " + PressureTrigger.NO_PSI);
        }
        assumeTrue(present, PressureTrigger.NO_PSI);
    }

    @Test
    void shouldCreateATriggerThatPollsQuietly() {
        // 2 s windows are accepted with or without CAP_SYS_RESOURCE.
        try (PressureTrigger trigger = PressureTrigger.memory(PressureTrigger.Kind.SOME, 150_000, 2_000_000);
                Arena arena = Arena.ofConfined()) {
            assertEquals("some 150000 2000000", trigger.trigger());
            MemorySegment fds = Poll.allocate(arena, 1);
            Poll.set(fds, 0, trigger.fd(), Poll.POLLPRI);
            int ready = Poll.poll(fds, 1, 0);
            // A file without a trigger polls POLLERR|POLLPRI; ours must not report an error.
            assertEquals(0, Poll.revents(fds, 0) & Poll.POLLERR, "revents " + Poll.revents(fds, 0));
            System.out.println("PSI trigger " + trigger.trigger() + " polled " + ready
                    + " (privileged " + PressureTrigger.privileged() + ")");
        }
    }

    @Test
    void shouldCreateAFullTrigger() {
        try (PressureTrigger trigger = PressureTrigger.memory(PressureTrigger.Kind.FULL, 1, 4_000_000)) {
            assertTrue(trigger.fd() >= 0);
        }
    }

    @Test
    void shouldRefuseAStallLongerThanTheWindowSayingWhy() {
        LinuxException e = assertThrows(LinuxException.class,
                () -> PressureTrigger.memory(PressureTrigger.Kind.SOME, 3_000_000, 2_000_000));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("\"some 3000000 2000000\" refused; the window must be"),
                e.getMessage());
        assertEquals(Errno.EINVAL, assertThrows(LinuxException.class,
                () -> PressureTrigger.memory(PressureTrigger.Kind.SOME, 1, 12_000_000)).errno(), "over 10 s");
    }

    @Test
    void shouldRefuseUnprivilegedWindowsThatAreNotMultiplesOfTwoSeconds() {
        assumeTrue(!PressureTrigger.privileged(), "has CAP_SYS_RESOURCE: any window is allowed");
        LinuxException e = assertThrows(LinuxException.class,
                () -> PressureTrigger.memory(PressureTrigger.Kind.SOME, 150_000, 1_000_000));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("without CAP_SYS_RESOURCE (as here) the window must be a multiple "
                + "of 2 s"), e.getMessage());
    }

    @Test
    void shouldReadTheCurrentAverages() {
        MemoryPressure pressure = MemoryPressure.read();
        System.out.println("memory pressure now: " + pressure);
        for (MemoryPressure.Stall stall : List.of(pressure.some(), pressure.full())) {
            assertTrue(stall.avg10() >= 0 && stall.avg10() <= 100, stall.toString());
            assertTrue(stall.avg60() >= 0 && stall.avg60() <= 100, stall.toString());
            assertTrue(stall.avg300() >= 0 && stall.avg300() <= 100, stall.toString());
        }
        assertTrue(pressure.full().totalMicros() <= pressure.some().totalMicros(), "full is a part of some");
        MemoryPressure later = MemoryPressure.read();
        assertTrue(later.some().totalMicros() >= pressure.some().totalMicros(), "totals only grow: " + later);
        assertTrue(later.full().totalMicros() >= pressure.full().totalMicros(), "totals only grow: " + later);
    }

    @Test
    void shouldParseEveryFieldOfThePressureFile() {
        MemoryPressure parsed = MemoryPressure.parse(List.of(
                "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456789",
                "full avg10=0.75 avg60=0.00 avg300=0.01 total=98765"));
        assertEquals(new MemoryPressure.Stall(1.50, 0.25, 0.00, 123_456_789L), parsed.some());
        assertEquals(new MemoryPressure.Stall(0.75, 0.00, 0.01, 98_765L), parsed.full());
    }

    @Test
    void shouldParseEveryField() {
        MemoryPressure parsed = MemoryPressure.parse(List.of(
                "some avg10=1.25 avg60=0.50 avg300=0.07 total=123456",
                "full avg10=0.10 avg60=0.02 avg300=0.00 total=789 newfield=3"));
        assertEquals(new MemoryPressure.Stall(1.25, 0.5, 0.07, 123456), parsed.some());
        assertEquals(new MemoryPressure.Stall(0.1, 0.02, 0.0, 789), parsed.full());
        assertThrows(IllegalStateException.class, () -> MemoryPressure.parse(List.of("some avg10=0")));
    }
}
