package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;

/**
 * The entry tally keeps the entries it must and forgets the dead ones even when nobody asks for a
 * total: at a high miss rate, dead entries kept until the publisher's next total (100 ms) are
 * garbage every miss pays for.
 */
class EntryTallyTest {
    /** A new entry, released by the holder that missed (a miss creates it held once). */
    private static Entry entry(int i) {
        Entry entry = new Entry(new StartTableTest.Region(i * 4096L, 4096, Access.ALL, i + 1, i + 1), i, i, false);
        entry.release();
        return entry;
    }

    @Test
    void shouldSweepDeadEntriesFromTheMissPathWithoutATotal() {
        EntryTally tally = new EntryTally();
        long hits = 0;
        for (int i = 0; i < 10 * EntryTally.SWEEP_AFTER; i++) {
            Entry entry = entry(i);
            tally.track(entry, 1);
            for (int h = 0; h < i % 3; h++) { // a hit: take a reference and release it
                assertTrue(entry.tryAcquire() >= 0);
                entry.release();
                hits++;
            }
            assertTrue(entry.tryKill(false), "evicted unheld");
            assertTrue(tally.tracked() <= EntryTally.SWEEP_AFTER, "dead entries kept: " + tally.tracked());
        }
        assertEquals(hits, tally.census().hits(), "the swept entries' hits are kept");
        assertEquals(0, tally.tracked());
    }

    @Test
    void shouldKeepTrackingTheLiveEntriesWhenItSweeps() {
        EntryTally tally = new EntryTally();
        Entry live = entry(0);
        tally.track(live, 1);
        assertTrue(live.tryAcquire() >= 0);
        live.release();
        for (int i = 1; i <= 3 * EntryTally.SWEEP_AFTER; i++) {
            Entry dead = entry(i);
            tally.track(dead, 2);
            assertTrue(dead.tryKill(false));
        }
        assertTrue(live.tryAcquire() >= 0);
        live.release();
        assertEquals(2, tally.census().hits(), "the live entry's hits, before and after the sweeps");
    }

    @Test
    void shouldCountEachEntryByItsStateOnce() {
        EntryTally tally = new EntryTally();
        Entry unused = entry(0); // in the index, nobody holds it
        Entry held = entry(1);
        Entry retiredHeld = entry(2);
        Entry retiredUnheld = entry(3); // flagged by an event, its deregistration on its way
        Entry dead = entry(4);
        Entry deadHeld = entry(5); // killed while held: the cache closed under its holder
        for (Entry entry : new Entry[] {unused, held, retiredHeld, retiredUnheld, dead, deadHeld}) {
            tally.track(entry, 6);
        }
        assertTrue(held.tryAcquire() >= 0);
        assertTrue(retiredHeld.tryAcquire() >= 0);
        retiredHeld.mark(Entry.RETIRED);
        retiredUnheld.mark(Entry.RETIRED);
        assertTrue(dead.tryKill(false));
        assertTrue(deadHeld.tryAcquire() >= 0);
        assertTrue(deadHeld.forceKill());

        EntryTally.Census census = tally.census();
        assertEquals(2, census.entries(), "unused and held: " + census);
        assertEquals(1, census.retired(), "retired and still held: " + census);
        assertEquals(held.length() + retiredHeld.length(), census.inUseBytes(), "held and not dead: " + census);
        assertEquals(3, census.hits(), "one hit each on held, retiredHeld and deadHeld: " + census);
        assertEquals(5, tally.tracked(), "the dead unheld entry is forgotten, the dead held one kept");
    }

    /**
     * Totals are paced ({@link EntryTally#CENSUS_INTERVAL_NANOS} apart): a thread calling
     * {@code stats()} in a loop cannot sweep the lines the misses write more often than that. A
     * lower bound only: a slow machine makes the calls slower still, never faster.
     */
    @Test
    void consecutiveTotalsShouldBeTakenNoCloserThanTheInterval() {
        EntryTally tally = new EntryTally();
        tally.track(entry(1), 1);
        tally.census();
        int totals = 100;
        long start = System.nanoTime();
        for (int i = 0; i < totals; i++) {
            assertEquals(1, tally.census().entries());
        }
        long elapsed = System.nanoTime() - start;
        assertTrue(elapsed >= totals * EntryTally.CENSUS_INTERVAL_NANOS,
                totals + " totals in " + elapsed + " ns: closer than " + EntryTally.CENSUS_INTERVAL_NANOS + " ns apart");
    }

    /**
     * One thread tracks (as the miss path does) while another takes totals in a loop (as a thread
     * calling {@code stats()} does): no entry is lost or taken twice on the way from the one to the
     * other, across the miss path's own sweeps, and the hit total never goes down.
     */
    @Test
    void shouldLoseNoEntryWhileTotalsAreTakenConcurrently() throws InterruptedException {
        long seed = System.nanoTime();
        System.out.println("EntryTallyTest seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        EntryTally tally = new EntryTally(0); // totals back to back: as many meetings with the miss path's sweeps as can be
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<String> broken = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().start(() -> {
            long last = 0;
            try {
                while (!done.get()) {
                    long hits = tally.census().hits();
                    if (hits < last) {
                        broken.compareAndSet(null, "hits went down from " + last + " to " + hits);
                    }
                    last = hits;
                }
            } catch (RuntimeException e) {
                broken.compareAndSet(null, "a total failed: " + e);
            }
        });
        int count = 50 * EntryTally.SWEEP_AFTER + 7;
        long hits = 0;
        long alive = 0;
        try {
            for (int i = 0; i < count; i++) {
                Entry entry = entry(i);
                tally.track(entry, alive + 1);
                for (int h = random.nextInt(3); h > 0; h--) {
                    assertTrue(entry.tryAcquire() >= 0);
                    entry.release();
                    hits++;
                }
                if (random.nextInt(10) == 0) {
                    alive++;
                } else {
                    assertTrue(entry.tryKill(false), "evicted unheld");
                }
            }
        } finally {
            done.set(true);
            reader.join();
        }
        assertEquals(null, broken.get(), "seed " + seed);
        EntryTally.Census census = tally.census();
        assertEquals(hits, census.hits(), "every hit counted once, seed " + seed);
        assertEquals(alive, census.entries(), "every live entry counted once, seed " + seed);
        assertEquals(alive, tally.tracked(), "seed " + seed);
    }
}
