package org.memreg.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/**
 * Runs each benchmark's set-up, a few operations and its tear-down (which checks that hits were
 * hits and misses were misses), so a broken benchmark fails the build instead of a bench run.
 * No timing here.
 */
class BenchmarkSmokeTest {
    @Test
    void hitBenchmarkOnlyHits() {
        for (String monitor : new String[] {"none", "userfaultfd", "hooks", "hooks+userfaultfd", "strict"}) {
            hitBenchmarkOnlyHits(monitor);
        }
    }

    private void hitBenchmarkOnlyHits(String monitor) {
        HitBenchmark.Cache cache = new HitBenchmark.Cache();
        cache.buffers = 16;
        cache.monitor = monitor;
        cache.setUp();
        HitBenchmark.Cursor cursor = new HitBenchmark.Cursor();
        cursor.setUp(cache);
        HitBenchmark benchmark = new HitBenchmark();
        for (int i = 0; i < 1000; i++) {
            assertNotEquals(0, benchmark.hitOneThread(cache, cursor));
        }
        assertEquals(1000, cache.cache.stats().hits());
        cache.tearDown();
    }

    @Test
    void unmapBenchmarkInvalidatesEveryBuffer() {
        for (String monitor : new String[] {"userfaultfd", "hooks"}) {
            unmapBenchmarkInvalidatesEveryBuffer(monitor);
        }
    }

    private void unmapBenchmarkInvalidatesEveryBuffer(String monitor) {
        UnmapBenchmark benchmark = new UnmapBenchmark();
        UnmapBenchmark.Fixture fixture = new UnmapBenchmark.Fixture();
        fixture.monitor = monitor;
        fixture.setUp();
        for (int i = 0; i < 50; i++) {
            UnmapBenchmark.Unwatched unwatched = new UnmapBenchmark.Unwatched();
            unwatched.map(fixture);
            benchmark.munmapUnwatched(unwatched);
            UnmapBenchmark.Watched watched = new UnmapBenchmark.Watched();
            watched.register(fixture);
            benchmark.munmapWatched(watched);
            UnmapBenchmark.Held held = new UnmapBenchmark.Held();
            held.register(fixture);
            assertEquals(false, benchmark.munmapToInvalid(held));
        }
        assertEquals(100, fixture.cache.stats().eventInvalidations(), monitor + ": every watched munmap invalidated");
        assertEquals(0, fixture.cache.stats().entries());
        fixture.tearDown();
    }

    @Test
    void missBenchmarkOnlyMisses() {
        for (String device : new String[] {"noop", "mlock"}) {
            MissBenchmark benchmark = new MissBenchmark();
            benchmark.device = device;
            benchmark.setUp();
            for (int i = 0; i < 100; i++) {
                benchmark.cacheMissAndEvict();
                benchmark.direct();
            }
            assertEquals(100, benchmark.cache.stats().misses());
            assertEquals(99, benchmark.cache.stats().evictionsMaxEntries());
            benchmark.tearDown();
        }
    }

    /** Every variant really goes there and back: each round trip returns one more than the last. */
    @Test
    void pingPongBenchmarkRoundTrips() throws Exception {
        PingPongBenchmark benchmark = new PingPongBenchmark();
        PingPongBenchmark.Bare bare = new PingPongBenchmark.Bare();
        bare.setUp();
        try {
            for (long i = 1; i <= 200; i++) {
                assertEquals(i, benchmark.floor(bare));
            }
        } finally {
            bare.tearDown();
        }
        for (boolean progressThread : new boolean[] {true, false}) {
            PingPongBenchmark.Nodes nodes = new PingPongBenchmark.Nodes();
            nodes.progressThread = progressThread;
            nodes.setUp();
            try {
                for (long i = 1; i <= 200; i++) {
                    assertEquals(2 * i - 1, benchmark.futures(nodes), "futures, progressThread=" + progressThread);
                    assertEquals(2 * i, benchmark.sendCopy(nodes), "sendCopy, progressThread=" + progressThread);
                }
            } finally {
                nodes.tearDown();
            }
        }
    }
}
