package org.memreg.util;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Unprivileged;

/** A held arena cannot close until its last operation let go, and then it can at once. */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ArenaHoldTest {
    @BeforeAll
    static void available() {
        assertNull(ArenaHold.unavailableReason(), "the holder's library was built by the build");
    }

    /** Releases {@code hold} and waits until the arena may close. */
    private static void releaseAndWait(ArenaHold hold) throws InterruptedException {
        CountDownLatch free = new CountDownLatch(1);
        hold.release(free::countDown);
        assertTrue(free.await(30, TimeUnit.SECONDS), "the release ran its completion");
    }

    @Test
    void aHeldSharedArenaShouldRefuseToCloseUntilReleased() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(4096);
        ArenaHold hold = ArenaHold.of(memory);
        assertTrue(hold.await(), "held");
        IllegalStateException refused = assertThrows(IllegalStateException.class, arena::close);
        assertTrue(refused.getMessage().contains("acquired"), refused.getMessage());
        memory.set(JAVA_LONG, 0, 42); // still the caller's memory
        releaseAndWait(hold);
        arena.close(); // at once after the release's completion
        assertFalse(memory.scope().isAlive());
    }

    @Test
    void operationsOnOneArenaShouldShareItsHoldAndTheLastShouldEndIt() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(8192);
        ArenaHold first = ArenaHold.of(memory.asSlice(0, 4096));
        ArenaHold second = ArenaHold.of(memory.asSlice(4096));
        assertSame(first, second, "one hold per arena");
        assertTrue(second.await());
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        first.release(() -> ranOn.set(Thread.currentThread()));
        assertSame(Thread.currentThread(), ranOn.get(), "not the last: its completion runs at once");
        assertThrows(IllegalStateException.class, arena::close, "the other operation still holds it");
        releaseAndWait(second);
        arena.close();
    }

    @Test
    void arenasNobodyElseCanCloseShouldNotBeHeld() {
        try (Arena confined = Arena.ofConfined()) {
            assertSame(ArenaHold.NONE, ArenaHold.of(confined.allocate(64)), "confined: the holder could not touch it");
        }
        assertSame(ArenaHold.NONE, ArenaHold.of(Arena.ofAuto().allocate(64)), "automatic: cannot be closed");
        assertSame(ArenaHold.NONE, ArenaHold.of(Arena.global().allocate(64)), "global: cannot be closed");
        assertSame(ArenaHold.NONE, ArenaHold.of(MemorySegment.ofArray(new byte[64])), "heap");
        AtomicInteger ran = new AtomicInteger();
        ArenaHold.NONE.release(ran::incrementAndGet);
        assertEquals(1, ran.get());
        assertTrue(ArenaHold.NONE.held());
    }

    @Test
    void anArenaClosedBeforeItsHoldShouldFailTheHold() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(64);
        arena.close();
        ArenaHold hold = ArenaHold.of(memory);
        assertFalse(hold.await(), "never held");
        assertTrue(hold.failed());
        releaseAndWait(hold);
    }

    /** Closes {@code arena} from another thread: what that thread's close threw, or null if it closed. */
    private static Throwable closeElsewhere(Arena arena) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread closer = Thread.ofPlatform().start(() -> {
            try {
                arena.close();
            } catch (RuntimeException e) {
                thrown.set(e);
            }
        });
        closer.join();
        return thrown.get();
    }

    @Test
    void aPostThatNativeCodeFinishedShouldHaveHeldTheArenaOnlyDuringIt() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(64);
        AtomicReference<Throwable> duringPost = new AtomicReference<>();
        ArenaHold.Posted posted = ArenaHold.during(memory, () -> {
            try {
                duringPost.set(closeElsewhere(arena));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return 7;
        }, result -> false);
        assertTrue(duringPost.get() instanceof IllegalStateException, "closed under the post: " + duringPost.get());
        assertEquals(7, posted.result());
        assertSame(ArenaHold.NONE, posted.hold(), "finished within the post: no hold, no hand-off");
        arena.close(); // at once
    }

    @Test
    void aPostWhoseMemoryNativeCodeKeepsShouldLeaveItHeld() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(64);
        ArenaHold.Posted posted = ArenaHold.during(memory, () -> 1, result -> result == 1);
        assertTrue(posted.hold().held());
        assertTrue(closeElsewhere(arena) instanceof IllegalStateException, "held past the post");
        releaseAndWait(posted.hold());
        arena.close();
    }

    @Test
    void aPostOnAClosedArenaOrOneThatThrowsShouldLeaveNothingHeld() throws Exception {
        Arena arena = Arena.ofShared();
        MemorySegment memory = arena.allocate(64);
        AtomicInteger posts = new AtomicInteger();
        assertThrows(UnsupportedOperationException.class, () -> ArenaHold.during(memory, () -> {
            posts.incrementAndGet();
            throw new UnsupportedOperationException("the post's own failure");
        }, result -> true));
        arena.close(); // nothing holds it
        assertThrows(IllegalStateException.class, () -> ArenaHold.during(memory, posts::incrementAndGet, r -> true));
        assertEquals(1, posts.get(), "no post on a closed arena");
    }

    /**
     * Threads hold, touch and release segments of a few shared arenas while others close those
     * arenas and open new ones at random: no held segment may ever be found closed, and every
     * arena closes once its holders let go.
     */
    @Test
    void noHeldArenaShouldCloseUnderAnyThread() throws Exception {
        long seed = TestSeeds.seed("ArenaHoldTest.noHeldArenaShouldCloseUnderAnyThread");
        int slots = 3;
        int holders = 6;
        int rounds = Integer.getInteger("memreg.test.holdRounds", 400);
        List<AtomicReference<Arena>> arenas = new ArrayList<>();
        List<AtomicReference<MemorySegment>> segments = new ArrayList<>();
        for (int i = 0; i < slots; i++) {
            Arena arena = Arena.ofShared();
            arenas.add(new AtomicReference<>(arena));
            segments.add(new AtomicReference<>(arena.allocate(4096)));
        }
        AtomicLong closedUnderAHold = new AtomicLong();
        AtomicLong held = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong closes = new AtomicLong();
        CountDownLatch holdersDone = new CountDownLatch(holders);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < holders; t++) {
            SplittableRandom random = new SplittableRandom(seed + t);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int r = 0; r < rounds; r++) {
                        MemorySegment memory = segments.get(random.nextInt(slots)).get();
                        ArenaHold hold = ArenaHold.of(memory);
                        if (!hold.await()) {
                            failed.incrementAndGet();
                        } else {
                            held.incrementAndGet();
                            for (int i = 0; i < 50; i++) {
                                try {
                                    memory.set(JAVA_LONG, 8L * random.nextInt(512), r);
                                } catch (IllegalStateException e) {
                                    closedUnderAHold.incrementAndGet();
                                }
                                Thread.onSpinWait();
                            }
                        }
                        CountDownLatch free = new CountDownLatch(1);
                        hold.release(free::countDown);
                        free.await();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    holdersDone.countDown();
                }
            }));
        }
        SplittableRandom random = new SplittableRandom(seed);
        while (holdersDone.getCount() > 0) {
            int slot = random.nextInt(slots);
            Arena arena = arenas.get(slot).get();
            try {
                arena.close();
                closes.incrementAndGet();
                Arena next = Arena.ofShared();
                arenas.get(slot).set(next);
                segments.get(slot).set(next.allocate(4096));
            } catch (IllegalStateException heldNow) {
                Thread.yield();
            }
        }
        for (Thread thread : threads) {
            thread.join();
        }
        System.out.printf("%d holds, %d failed (closed first), %d closes between them%n", held.get(), failed.get(),
                closes.get());
        assertEquals(0, closedUnderAHold.get(), "a held arena closed under the thread that held it");
        assertTrue(held.get() > 0, "some holds were in place");
        assertFalse(ArenaHold.inTransition(), "every hold has started and ended: no spinning thread needs to yield");
        for (AtomicReference<Arena> arena : arenas) {
            arena.get().close(); // nothing holds it any more
        }
    }
}
