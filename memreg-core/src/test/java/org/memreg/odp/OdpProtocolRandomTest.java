package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.memreg.util.TestSeeds;

/**
 * Randomized runs of the protocol over the simulated FIFO network with RMA in flight, checking
 * the Promela model's properties: no RMA of a peer that was not cut off reaches a reclaimed page,
 * and once reclaims and accesses stop, every fault is answered and nothing stays stuck.
 */
class OdpProtocolRandomTest {
    private static final int RUNS = Integer.getInteger("memreg.test.odpRuns", 300);

    @Test
    void shouldNeverLetAnRmaReachAReclaimedPageAndAnswerEveryFault() {
        long seed = TestSeeds.seed("OdpProtocolRandomTest");
        SplittableRandom seeds = new SplittableRandom(seed);
        long landed = 0;
        long reclaimed = 0;
        long faults = 0;
        long expiries = 0;
        for (int run = 0; run < RUNS; run++) {
            long runSeed = seeds.nextLong();
            OdpSimulation sim = new OdpSimulation(runSeed, 4 + (run % 12), 2 + run % 2, 400, false);
            for (int i = 0; i < 2_000; i++) {
                sim.step(true);
            }
            sim.quiesce();
            sim.checkQuiet();
            assertTrue(sim.violations.isEmpty(), "run seed " + runSeed + ": " + sim.violations.subList(0,
                    Math.min(5, sim.violations.size())));
            OdpStats s = sim.owner.stats();
            assertTrue(s.invalidationsAcked() <= s.invalidationsSent(), s.toString());
            landed += sim.landed;
            reclaimed += s.pagesReclaimed();
            faults += s.faults();
            expiries += s.leaseExpiries();
        }
        System.out.printf("  %d runs: %d RMA landed, %d pages reclaimed, %d faults, %d lease expiries%n", RUNS, landed,
                reclaimed, faults, expiries);
        // the runs must really exercise the protocol, or the checks above prove nothing
        assertTrue(landed > 1000 && reclaimed > 1000 && faults > 1000 && expiries > 0,
                landed + " " + reclaimed + " " + faults + " " + expiries);
    }

    @Test
    void shouldCatchAPeerThatAcknowledgesBeforeItsOperationsDrained() {
        long seed = TestSeeds.seed("OdpProtocolRandomTest mutant");
        SplittableRandom seeds = new SplittableRandom(seed);
        int caught = 0;
        long longest = 0;
        for (int run = 0; run < 50; run++) {
            OdpSimulation sim = new OdpSimulation(seeds.nextLong(), 6, 2, 400, true);
            int steps = 0;
            // most runs catch it within 2,000 steps; one of 50 (seed -7921549638189791509) needed more
            while (steps < 20_000 && sim.violations.isEmpty()) {
                sim.step(true);
                steps++;
            }
            if (!sim.violations.isEmpty()) {
                caught++;
                longest = Math.max(longest, steps);
            }
        }
        System.out.println("  the mutant was caught within " + longest + " steps in every run that caught it");
        assertEquals(50, caught, "the early-ACK mutant went unnoticed in some runs");
    }
}
