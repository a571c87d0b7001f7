package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * {@link ConfinedDelivery} raced, without UCX: in each round another thread copies into memory
 * confined to this thread (its kernel step held up a random while after its look at the arena),
 * and this thread, at a random moment, ends its wait ({@link ConfinedDelivery#left}) and, a
 * random while later, closes the arena, as the README's try-with-resources around a timed {@code
 * get} does. Whatever the
 * order, no byte may change in the memory after the close, and every copy ends delivered,
 * deferred to the owner, or failed as gone. The memory is the test's own mapping seen through the
 * arena, so that a write after the close shows in the bytes.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConfinedDeliveryRaceTest {
    private static final long BYTES = 64 << 10;
    private static final int DELIVERED = 1;
    private static final int FAILED = 2;

    @AfterEach
    void unhook() {
        ConfinedMemory.beforeKernelStep = () -> { };
    }

    @Test
    void noByteShouldLandAfterTheOwnerLeftAndClosed() throws Exception {
        long seed = TestSeeds.seed("ConfinedDeliveryRaceTest.noByteShouldLandAfterTheOwnerLeftAndClosed");
        SplittableRandom random = new SplittableRandom(seed);
        int rounds = Integer.getInteger("memreg.test.deliveryRounds", 1000);
        MemorySegment from = Arena.ofAuto().allocate(BYTES).fill((byte) 0x5a);
        MemorySegment atClose = Arena.ofAuto().allocate(BYTES);
        int[] outcomes = new int[3]; // delivered, failed at once, deferred
        ExecutorService copier = Executors.newSingleThreadExecutor();
        try {
            for (int round = 0; round < rounds; round++) {
                long stepNanos = random.nextLong(100_000);
                long copyAfterNanos = random.nextLong(100_000);
                long leaveAfterNanos = random.nextLong(150_000);
                long closeAfterNanos = random.nextLong(100_000);
                ConfinedMemory.beforeKernelStep = () -> spin(stepNanos);
                try (ArenaMapping mapping = new ArenaMapping(BYTES, Arena.ofConfined())) {
                    MemorySegment to = mapping.buffer();
                    ConfinedDelivery delivery = new ConfinedDelivery();
                    AtomicInteger outcome = new AtomicInteger();
                    Future<Boolean> copied = copier.submit(() -> {
                        spin(copyAfterNanos);
                        return delivery.copy(from, to, BYTES, () -> outcome.set(DELIVERED), e -> outcome.set(FAILED),
                                () -> new IllegalStateException("gone"));
                    });
                    spin(leaveAfterNanos);
                    delivery.left(() -> outcome.get() != 0); // the owner's timed get ends
                    spin(closeAfterNanos); // it may do other work before the close: it is away
                    MemorySegment.copy(mapping.mapped(), 0, atClose, 0, BYTES);
                    mapping.arena().close(); // and its try-with-resources closes the arena
                    boolean made = copied.get(30, TimeUnit.SECONDS);
                    assertEquals(-1, mapping.mapped().mismatch(atClose), "round " + round + " (seed " + seed + "): bytes"
                            + " landed in the memory after its owner left and closed it");
                    if (made) {
                        outcomes[outcome.get() == DELIVERED ? 0 : 1]++;
                        assertTrue(outcome.get() != 0, "round " + round + ": a copy made neither delivered nor failed");
                    } else { // deferred: the owner's next look finds the arena closed
                        delivery.look();
                        assertEquals(FAILED, outcome.get(), "round " + round + ": a deferred copy into a closed arena");
                        outcomes[2]++;
                    }
                }
            }
        } finally {
            copier.shutdownNow();
        }
        System.out.printf("ConfinedDeliveryRaceTest: %d rounds, delivered %d, failed at once %d, deferred %d%n", rounds,
                outcomes[0], outcomes[1], outcomes[2]);
        assertTrue(outcomes[0] > 0 && outcomes[1] + outcomes[2] > 0, "both orders came: delivered " + outcomes[0]
                + ", not copied " + (outcomes[1] + outcomes[2]));
    }

    private static void spin(long nanos) {
        long until = System.nanoTime() + nanos;
        while (System.nanoTime() - until < 0) {
            Thread.onSpinWait();
        }
    }
}
