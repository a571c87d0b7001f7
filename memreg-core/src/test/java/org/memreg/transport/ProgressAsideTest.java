package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Await;

/**
 * The progress thread parks while a waiter drives, and comes back for work nobody waits on
 * ({@link ProgressEngine#stayAside}): a driver that leaves such work behind, or a thread other
 * than the last driver adding it, unparks the thread. The park is an hour here, so nothing else
 * brings it back within the test: without those wake-ups the unwaited receive never completes.
 * The server's thread is the one watched; the client only sends.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProgressAsideTest {
    private static final long WAITED = 1, UNWAITED = 2;
    private static final Duration WITHIN = Duration.ofSeconds(30);

    /** A long wait spin keeps the driver driving (not idle) until its message comes. */
    private static LoopbackPair open() {
        return LoopbackPair.connect(b -> b.progressThread(true).waitSpin(Duration.ofSeconds(1))
                .asidePark(Duration.ofHours(1)));
    }

    @Test
    void aDriverLeavingAReceiveNobodyWaitsOnShouldBringTheProgressThreadBack() throws Exception {
        try (LoopbackPair pair = open()) {
            CompletableFuture<Long> unwaited = pair.server().receive(UNWAITED, pair.arena().allocate(8, 8));
            driveOneReceiveWhileTheThreadParks(pair);
            pair.endpoint().send(UNWAITED, message(pair, 22)).get(30, TimeUnit.SECONDS);
            assertCompletesWithoutAWaiter(unwaited);
        }
    }

    @Test
    void anotherThreadAddingWorkWhileNobodyDrivesShouldBringTheProgressThreadBack() throws Exception {
        try (LoopbackPair pair = open()) {
            driveOneReceiveWhileTheThreadParks(pair); // the driver leaves nothing behind: the thread stays parked
            CompletableFuture<Long> unwaited = pair.server().receive(UNWAITED, pair.arena().allocate(8, 8));
            pair.endpoint().send(UNWAITED, message(pair, 22)).get(30, TimeUnit.SECONDS);
            assertCompletesWithoutAWaiter(unwaited);
        }
    }

    /** A thread waits for a receive on the server, driving, until the progress thread parks aside; then the message comes. */
    private static void driveOneReceiveWhileTheThreadParks(LoopbackPair pair) throws Exception {
        CompletableFuture<Long> waited = pair.server().receive(WAITED, pair.arena().allocate(8, 8));
        Thread driver = Thread.ofPlatform().name("driver").start(waited::join);
        Await.until(pair.server().engine()::parkedAside, WITHIN, "the progress thread to park aside");
        pair.endpoint().send(WAITED, message(pair, 11)).get(30, TimeUnit.SECONDS);
        driver.join(TimeUnit.SECONDS.toMillis(30));
        assertEquals(8L, waited.getNow(-1L), "the driver's receive");
    }

    private static MemorySegment message(LoopbackPair pair, long value) {
        MemorySegment segment = pair.arena().allocate(8, 8);
        segment.set(JAVA_LONG, 0, value);
        return segment;
    }

    /** Watches the future without waiting on it (a wait would drive the worker itself). */
    private static void assertCompletesWithoutAWaiter(CompletableFuture<Long> future) throws InterruptedException {
        Await.until(future::isDone, WITHIN, "the receive nobody waits on to complete");
        assertEquals(8L, future.getNow(-1L));
    }
}
