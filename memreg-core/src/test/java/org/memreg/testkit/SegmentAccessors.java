package org.memreg.testkit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Threads that read, write, fill and copy at random places of a segment until an access throws:
 * what a test starts before it ends the memory under them (a window closed, a key revoked, an
 * arena closed). Each must stop with {@link IllegalStateException}; memory that went before their
 * accesses were over would fault and kill the JVM instead.
 */
public final class SegmentAccessors {
    /** Where the threads' reads go, so that the JIT keeps them. */
    private static volatile long sink;
    private final AtomicLong accesses = new AtomicLong();
    private final AtomicLong stopped = new AtomicLong();
    private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();

    /**
     * Starts {@code count} threads on {@code segment}, writing {@code marker} (unless it is read-only),
     * each with its own random sequence from {@code seed}; returns once each has made its first
     * access (a thread merely started may not have been scheduled yet on a loaded machine).
     */
    public SegmentAccessors(MemorySegment segment, int count, long marker, long seed) throws InterruptedException {
        CountDownLatch running = new CountDownLatch(count);
        for (int t = 0; t < count; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            threads.add(Thread.ofPlatform().daemon().name("segment-accessor-" + t).start(
                    () -> access(segment, marker, random, running)));
        }
        running.await();
    }

    private void access(MemorySegment segment, long marker, SplittableRandom random, CountDownLatch running) {
        long bytes = segment.byteSize();
        int kinds = segment.isReadOnly() ? 2 : 4;
        boolean counted = false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment local = arena.allocate(64 << 10);
            long sum = 0;
            for (long n = 0;; n++) {
                long offset = random.nextLong(bytes / 8) * 8;
                long span = Math.min(Math.min(bytes - offset, local.byteSize()), 8L << random.nextInt(14));
                switch (random.nextInt(kinds)) {
                    case 0 -> sum += segment.get(JAVA_LONG, offset);
                    case 1 -> MemorySegment.copy(segment, offset, local, 0, span);
                    case 2 -> segment.set(JAVA_LONG, offset, marker);
                    default -> segment.asSlice(offset, span).fill((byte) marker);
                }
                if ((n & 255) == 0) {
                    accesses.addAndGet(256);
                    sink = sum;
                    if (!counted) {
                        counted = true;
                        running.countDown();
                    }
                }
            }
        } catch (IllegalStateException ended) {
            stopped.incrementAndGet();
        } catch (Throwable other) {
            failures.add(other);
        } finally {
            if (!counted) { // ended before its first access: the constructor must not wait for it
                running.countDown();
            }
        }
    }

    /** Waits for every thread, then asserts that each ran and stopped with IllegalStateException. */
    public void assertStoppedByTheEnd(String where) throws InterruptedException {
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(20));
            assertTrue(!thread.isAlive(), where + ": " + thread.getName() + " still inside memory that ended");
        }
        assertEquals(List.of(), List.copyOf(failures), where + ": an access ended otherwise");
        assertEquals(threads.size(), stopped.get(), where + ": threads stopped by IllegalStateException");
        assertTrue(accesses.get() > 0, where + ": the threads ran");
    }
}
