package org.memreg.transport;

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
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.linux.SysvShm;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Threads inside a peer's mapped window ({@link RemoteWindow#mapped}: reading, writing, filling and
 * copying) while the owner revokes its key, the endpoint closes or the node closes, at a random
 * moment: each thread gets an {@link IllegalStateException}, never a fault, and no write of theirs
 * reaches the owner's memory once the revocation or close has returned. The revocation detaches
 * the segment under the threads; if it did so before their accesses were over, the JVM would die
 * here. The same for the owner's threads when its window closes.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MappedRevocationRaceTest {
    private static final long BYTES = 256 << 10;
    private static final int THREADS = 4, ROUNDS = 40;
    /** Where the threads' reads go, so that the JIT keeps them. */
    private static volatile long sink;

    @Test
    void threadsInsideAMappingShouldGetAnExceptionWhenItEndsUnderThem() throws Exception {
        SplittableRandom random = new SplittableRandom(TestSeeds.seed("MappedRevocationRaceTest"));
        try (LoopbackPair pair = LoopbackPair.connect(b -> b)) {
            Window window = pair.server().allocateWindow(BYTES, Access.ALL);
            Endpoint endpoint = pair.endpoint();
            for (int round = 0; round <= ROUNDS; round++) {
                boolean last = round == ROUNDS;
                boolean closeEndpoint = !last && random.nextInt(4) == 0;
                MemorySegment seen = endpoint.attach(window.key()).mapped().orElseThrow();
                long at = seen.address();
                Accessors accessors = new Accessors(seen, round + 1, random.nextLong());
                LockSupport.parkNanos(random.nextLong(3_000_000)); // into the middle of their accesses
                String how;
                if (last) {
                    how = "the node closed";
                    pair.client().close();
                } else if (closeEndpoint) {
                    how = "the endpoint closed";
                    endpoint.close();
                    endpoint = pair.client().connect("127.0.0.1", pair.server().port());
                } else {
                    how = "the key was revoked";
                    window.invalidate();
                }
                window.segment().fill((byte) 0); // what lands after this came after the end
                accessors.awaitEnd();
                String where = "round " + round + ", " + how;
                assertEquals(List.of(), List.copyOf(accessors.failures), where + ": an access ended otherwise");
                assertEquals(THREADS, accessors.stopped.get(), where + ": threads stopped by IllegalStateException");
                assertTrue(accessors.accesses.get() > 0, where + ": the threads ran");
                assertEquals(-1, SysvShm.idOf(at), where + ": the segment stayed attached");
                long stray = window.segment().elements(JAVA_LONG).filter(word -> word.get(JAVA_LONG, 0) != 0).count();
                assertEquals(0, stray, where + ": words written into the owner's memory after the end");
            }
        }
    }

    /**
     * The same for the owner's own threads in {@link Window#segment()} when the window closes (and
     * for a peer's in its mapping of it): the segment ends before UCX unmaps the memory.
     */
    @Test
    void threadsInsideAWindowShouldGetAnExceptionWhenItClosesUnderThem() throws Exception {
        SplittableRandom random = new SplittableRandom(TestSeeds.seed("MappedRevocationRaceTest.close"));
        try (LoopbackPair pair = LoopbackPair.connect(b -> b)) {
            for (int round = 0; round <= ROUNDS / 2; round++) {
                boolean last = round == ROUNDS / 2;
                Window window = pair.server().allocateWindow(BYTES, Access.ALL);
                long at = window.segment().address();
                Accessors owners = new Accessors(window.segment(), round + 1, random.nextLong());
                Accessors peers = new Accessors(pair.endpoint().attach(window.key()).mapped().orElseThrow(), round + 1,
                        random.nextLong());
                LockSupport.parkNanos(random.nextLong(3_000_000));
                if (last) {
                    pair.server().close();
                } else {
                    window.close();
                }
                String where = "round " + round + (last ? ", the owner's node closed" : ", the window closed");
                for (Accessors accessors : List.of(owners, peers)) {
                    accessors.awaitEnd();
                    assertEquals(List.of(), List.copyOf(accessors.failures), where + ": an access ended otherwise");
                    assertEquals(THREADS, accessors.stopped.get(), where + ": threads stopped by IllegalStateException");
                    assertTrue(accessors.accesses.get() > 0, where + ": the threads ran");
                }
                assertEquals(-1, SysvShm.idOf(at), where + ": the window's memory is still mapped");
            }
        }
    }

    /** {@value #THREADS} threads that access one segment until it ends under them. */
    private static final class Accessors {
        final AtomicLong accesses = new AtomicLong();
        final AtomicLong stopped = new AtomicLong();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        private final List<Thread> threads = new ArrayList<>();

        Accessors(MemorySegment seen, long marker, long seed) throws InterruptedException {
            CountDownLatch running = new CountDownLatch(THREADS);
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(seed + t);
                threads.add(Thread.ofPlatform().daemon().name("mapped-accessor-" + t).start(() -> {
                    running.countDown();
                    access(seen, marker, random);
                }));
            }
            running.await();
        }

        /** Reads, writes, fills and copies out at random places until an access throws. */
        private void access(MemorySegment seen, long marker, SplittableRandom random) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment local = arena.allocate(64 << 10);
                long sum = 0;
                for (long n = 0;; n++) {
                    long offset = random.nextLong(BYTES / 8) * 8;
                    long span = Math.min(BYTES - offset, 8L << random.nextInt(14));
                    switch (random.nextInt(4)) {
                        case 0 -> sum += seen.get(JAVA_LONG, offset);
                        case 1 -> seen.set(JAVA_LONG, offset, marker);
                        case 2 -> seen.asSlice(offset, span).fill((byte) marker);
                        default -> MemorySegment.copy(seen, offset, local, 0, Math.min(span, local.byteSize()));
                    }
                    if ((n & 255) == 0) {
                        accesses.addAndGet(256);
                        sink = sum;
                    }
                }
            } catch (IllegalStateException ended) {
                stopped.incrementAndGet();
            } catch (Throwable other) {
                failures.add(other);
            }
        }

        void awaitEnd() throws InterruptedException {
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(20));
                assertTrue(!thread.isAlive(), thread.getName() + " still inside a mapping that ended");
            }
        }
    }
}
