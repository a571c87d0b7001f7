package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.Mman;

/**
 * The hooks' sequences live in cells that are never freed and are reused: a closed monitor gives
 * its cell back (opening and closing many leaks none), a gate that outlives its monitor stays
 * harmless when its cell serves another monitor, and running out is a clear refusal.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SequenceCellsTest {
    private static final long LENGTH = 16 * 4096;

    @Test
    void openingAndClosingMoreMonitorsThanThereAreCellsShouldLeakNone() {
        int before = SequenceCells.claimed();
        for (int i = 0; i < 2 * SequenceCells.CELLS; i++) {
            HookMonitor.open().close();
        }
        assertEquals(before, SequenceCells.claimed());
    }

    @Test
    void aGateThatOutlivesItsMonitorShouldStayHarmlessWhenItsCellIsReused() {
        HookMonitor closed = HookMonitor.open();
        closed.start((kind, start, end, taken) -> {
            throw new AssertionError("a closed monitor delivered " + kind);
        });
        EventGate staleGate = closed.gate();
        closed.close();
        List<HookMonitor> open = new ArrayList<>();
        try {
            long address = Mman.mapAnonymous(LENGTH);
            for (int i = 0; i < 4; i++) { // one of them gets the closed monitor's cell
                HookMonitor monitor = HookMonitor.open();
                open.add(monitor);
                monitor.start((kind, start, end, taken) -> { });
                assertTrue(monitor.watch(address, LENGTH));
            }
            Mman.munmap(address, LENGTH); // every open monitor's sequence goes up
            for (HookMonitor monitor : open) {
                assertTrue(monitor.gate().isPending());
                monitor.gate().awaitDelivery();
                assertFalse(monitor.gate().isPending(), "delivered");
            }
            staleGate.isPending(); // whatever it reads, it reads memory that exists
            staleGate.awaitDelivery(); // and draining a closed monitor delivers nothing
        } finally {
            open.forEach(HookMonitor::close);
        }
    }

    @Test
    void runningOutOfCellsShouldBeAClearRefusalThatEndsWhenOneIsFree() {
        List<Long> taken = new ArrayList<>();
        try {
            IllegalStateException full = assertThrows(IllegalStateException.class, () -> {
                while (true) {
                    taken.add(SequenceCells.claim());
                }
            });
            assertTrue(full.getMessage().contains(SequenceCells.CELLS + " hook and userfaultfd monitors are open"), full.getMessage());
            MonitorUnavailableException refused = assertThrows(MonitorUnavailableException.class, HookMonitor::open);
            assertTrue(refused.getMessage().contains(full.getMessage()), refused.getMessage());
            MonitorUnavailableException noReader = assertThrows(MonitorUnavailableException.class,
                    () -> UserfaultfdMonitor.open(false));
            assertTrue(noReader.getMessage().contains(full.getMessage()), noReader.getMessage());
            SequenceCells.release(taken.removeLast());
            HookMonitor.open().close();
            SequenceCells.release(taken.removeLast());
            UserfaultfdMonitor.open(false).close();
        } finally {
            taken.forEach(SequenceCells::release);
        }
    }
}
