package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.memreg.device.Access;

/**
 * The hit tally keeps the entries it must and forgets the dead ones even when nobody asks for a
 * total: at a high miss rate, dead entries kept until the publisher's next total (100 ms) are
 * garbage every miss pays for.
 */
class HitTallyTest {
    /** A new entry, released by the holder that missed (a miss creates it held once). */
    private static Entry entry(int i) {
        Entry entry = new Entry(new StartTableTest.Region(i * 4096L, 4096, Access.ALL, i + 1, i + 1), i, i);
        entry.release();
        return entry;
    }

    @Test
    void shouldSweepDeadEntriesFromTheMissPathWithoutATotal() {
        HitTally tally = new HitTally();
        long hits = 0;
        for (int i = 0; i < 10 * HitTally.SWEEP_AFTER; i++) {
            Entry entry = entry(i);
            tally.track(entry, 1);
            for (int h = 0; h < i % 3; h++) { // a hit: take a reference and release it
                assertTrue(entry.tryAcquire() >= 0);
                entry.release();
                hits++;
            }
            assertTrue(entry.tryKill(false), "evicted unheld");
            assertTrue(tally.tracked() <= HitTally.SWEEP_AFTER, "dead entries kept: " + tally.tracked());
        }
        assertEquals(hits, tally.total(), "the swept entries' hits are kept");
        assertEquals(0, tally.tracked());
    }

    @Test
    void shouldKeepTrackingTheLiveEntriesWhenItSweeps() {
        HitTally tally = new HitTally();
        Entry live = entry(0);
        tally.track(live, 1);
        assertTrue(live.tryAcquire() >= 0);
        live.release();
        for (int i = 1; i <= 3 * HitTally.SWEEP_AFTER; i++) {
            Entry dead = entry(i);
            tally.track(dead, 2);
            assertTrue(dead.tryKill(false));
        }
        assertTrue(live.tryAcquire() >= 0);
        live.release();
        assertEquals(2, tally.total(), "the live entry's hits, before and after the sweeps");
    }
}
