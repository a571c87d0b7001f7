package org.memreg.stat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * A writer thread publishes rounds while a reader maps and reads the same file over and over, as
 * {@code memreg stat --watch} does. A value is a round number in its high 32 bits and a scrambled
 * copy in the low 32 bits, so a torn value (halves from two stores) is caught; rounds grow by a
 * seeded random step. Every value read must be well formed, no later than the last round written,
 * and never go backwards. With ordered stores ({@link Counter#setOrdered}) the writer stores the
 * slots last to first, and the reader loads them first to last with acquire, so a slot read later
 * must be from the same round or a later one (release/acquire ordering, not just atomicity); with
 * atomic adds ({@link Counter#add}) only atomicity is checked.
 */
@Unprivileged
class CountersConcurrencyTest {
    private static final long MIX = 0x9E3779B9L;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "ordered stores: {0}")
    @ValueSource(booleans = {true, false})
    void shouldNeverSeeATornOrOutOfRangeValue(boolean orderedSet) throws Exception {
        long seed = TestSeeds.seed("CountersConcurrencyTest");
        Random random = new Random(seed);
        long durationNanos = Boolean.getBoolean("memreg.test.long") ? 20_000_000_000L : 1_000_000_000L;
        List<CounterId> lastToFirst = new ArrayList<>(SetKind.CACHE.counters());
        Collections.reverse(lastToFirst);
        try (CountersFile file = CountersFile.create(dir, "race", 4, 0)) {
            CounterSet set = file.allocate(SetKind.CACHE, "race");
            AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            long[] lastRound = new long[1];
            Thread writer = Thread.ofPlatform().name("writer").start(() -> {
                try {
                    long deadline = System.nanoTime() + durationNanos;
                    long round = 0;
                    while (System.nanoTime() < deadline && round < Integer.MAX_VALUE - 64) {
                        long next = round + 1 + random.nextInt(64);
                        for (CounterId counter : lastToFirst) {
                            if (orderedSet) {
                                set.counter(counter).setOrdered(encode(next));
                            } else {
                                set.counter(counter).add(encode(next) - encode(round));
                            }
                        }
                        round = next;
                        file.heartbeat();
                        lastRound[0] = round;
                    }
                } catch (Throwable t) {
                    writerFailure.set(t);
                }
            });
            long reads = 0;
            long[] previous = new long[lastToFirst.size()];
            while (writer.isAlive()) {
                List<CountersReader.Counter> counters = CountersReader.read(file.path()).sets().get(0).counters();
                long earlier = 0;
                for (int i = 0; i < counters.size(); i++) {
                    long round = decode(counters.get(i).value(), seed);
                    assertTrue(round >= previous[i], "counter " + i + " went back from round " + previous[i]
                            + " to " + round + " (seed " + seed + ")");
                    previous[i] = round;
                    if (orderedSet) {
                        assertTrue(round >= earlier, "counter " + i + " is from round " + round
                                + " but a counter loaded before it is from round " + earlier + " (seed " + seed + ")");
                    }
                    earlier = round;
                }
                reads++;
            }
            writer.join();
            if (writerFailure.get() != null) {
                throw new AssertionError("writer failed", writerFailure.get());
            }
            for (long round : previous) {
                assertTrue(round <= lastRound[0], "read round " + round + " after the last, " + lastRound[0]);
            }
            assertEquals(encode(lastRound[0]),
                    CountersReader.read(file.path()).sets().get(0).value(CounterId.HITS).orElseThrow());
            System.out.println("CountersConcurrencyTest " + reads + " snapshots, last round " + lastRound[0]);
            assertTrue(reads > 10, "the reader ran");
        }
    }

    private static long encode(long round) {
        return (round << 32) | ((round * MIX) & 0xFFFF_FFFFL);
    }

    private static long decode(long value, long seed) {
        long round = value >>> 32;
        if ((value & 0xFFFF_FFFFL) != ((round * MIX) & 0xFFFF_FFFFL)) {
            throw new AssertionError("torn value 0x" + Long.toHexString(value) + " (seed " + seed + ")");
        }
        return round;
    }
}
