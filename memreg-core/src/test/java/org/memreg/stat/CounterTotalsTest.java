package org.memreg.stat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Many threads counting into the same slots of a file: the totals are exact (no lost update), and
 * sets allocated and freed over and over while a reader reads never show the reader another set's
 * values (the generation check drops a record reused under it).
 */
@Unprivileged
class CounterTotalsTest {
    private static final int THREADS = 8;

    @TempDir
    Path dir;

    @Test
    void shouldCountEveryIncrementOfManyThreads() throws Exception {
        long seed = TestSeeds.seed("CounterTotalsTest");
        try (CountersFile file = CountersFile.create(dir, "totals", 2, 0)) {
            CounterSet set = file.allocate(SetKind.ODP_REGION, "shared");
            Counter faults = set.counter(CounterId.ODP_FAULTS);
            Counter pages = set.counter(CounterId.ODP_PAGES_RECLAIMED);
            Counter most = set.counter(CounterId.ODP_LEASE_EXPIRIES);
            long[] added = new long[THREADS];
            long[] largest = new long[THREADS];
            CyclicBarrier start = new CyclicBarrier(THREADS);
            List<Thread> threads = new ArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < THREADS; t++) {
                int me = t;
                SplittableRandom random = new SplittableRandom(seed + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < 100_000; i++) {
                            faults.increment();
                            long delta = random.nextLong(1, 1_000);
                            pages.add(delta);
                            added[me] += delta;
                            long candidate = random.nextLong(1, 1L << 40);
                            most.proposeMax(candidate);
                            largest[me] = Math.max(largest[me], candidate);
                        }
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            CountersReader.SetSnapshot read = CountersReader.read(file.path()).sets().get(0);
            assertEquals(THREADS * 100_000L, read.value(CounterId.ODP_FAULTS).orElseThrow(), "seed " + seed);
            assertEquals(java.util.Arrays.stream(added).sum(), read.value(CounterId.ODP_PAGES_RECLAIMED).orElseThrow());
            assertEquals(java.util.Arrays.stream(largest).max().orElseThrow(),
                    read.value(CounterId.ODP_LEASE_EXPIRIES).orElseThrow());
        }
    }

    /**
     * Sets are allocated, filled with a token of their own name and freed again and again (no reuse
     * delay) while a reader reads: every set read holds zeros or its own token, never another's.
     */
    @Test
    void shouldNeverShowAReusedRecordsOldValues() throws Exception {
        try (CountersFile file = CountersFile.create(dir, "churn", 1, 0)) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long[] rounds = new long[1];
            Thread churn = Thread.ofPlatform().start(() -> {
                try {
                    for (long token = 1; !stop.get(); token++) {
                        try (CounterSet set = file.allocate(SetKind.CACHE, Long.toString(token))) {
                            for (CounterId id : SetKind.CACHE.counters()) {
                                set.counter(id).setOrdered(token);
                            }
                        }
                        rounds[0] = token;
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            long reads = 0;
            long seen = 0;
            long deadline = System.nanoTime() + 1_000_000_000L;
            try {
                while (System.nanoTime() < deadline) {
                    for (CountersReader.SetSnapshot set : CountersReader.read(file.path()).sets()) {
                        long token = Long.parseLong(set.name());
                        for (CountersReader.Counter counter : set.counters()) {
                            assertTrue(counter.value() == 0 || counter.value() == token,
                                    "set " + token + " shows " + counter.value() + " in " + counter.label());
                        }
                        seen++;
                    }
                    reads++;
                }
            } finally {
                stop.set(true);
                churn.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            System.out.println("CounterTotalsTest " + reads + " reads, " + seen + " sets seen, " + rounds[0] + " sets made");
            assertTrue(rounds[0] > 100 && reads > 100, "both sides ran: " + rounds[0] + " sets, " + reads + " reads");
        }
    }
}
