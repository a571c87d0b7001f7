package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The pool a receive's first part lands in: big enough for what is asked, reused, bounded. */
class StagingTest {
    @Test
    void aPieceShouldHoldWhatIsAskedAndNoMoreThanTwiceThat() {
        long seed = new Random().nextLong();
        System.out.println("StagingTest seed " + seed);
        Random random = new Random(seed);
        Staging staging = new Staging();
        for (long bytes : new long[] {0, 1, 63, 64, 65, 127, 128, 129, 4096, 4097, Staging.MAX_BYTES - 1, Staging.MAX_BYTES}) {
            assertFits(staging.take(bytes), bytes);
        }
        for (int i = 0; i < 1000; i++) {
            long bytes = random.nextLong(Staging.MAX_BYTES + 1);
            assertFits(staging.take(bytes), bytes);
        }
        assertThrows(IllegalArgumentException.class, () -> staging.take(Staging.MAX_BYTES + 1));
        assertThrows(IllegalArgumentException.class, () -> staging.take(-1));
    }

    private static void assertFits(MemorySegment piece, long bytes) {
        assertTrue(piece.byteSize() >= bytes, piece.byteSize() + " bytes for " + bytes);
        assertTrue(piece.byteSize() <= Math.max(Staging.MIN_BYTES, 2 * bytes), piece.byteSize() + " bytes for " + bytes);
        assertEquals(0, piece.address() % Staging.MIN_BYTES, "aligned");
    }

    @Test
    void aPieceGivenBackShouldBeTakenAgainAndThePoolBounded() {
        Staging staging = new Staging();
        MemorySegment piece = staging.take(100);
        staging.give(piece);
        assertSame(piece, staging.take(128), "the same size class: reused");
        staging.give(piece);
        assertNotSame(piece, staging.take(129), "another size class");
        List<MemorySegment> many = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            many.add(staging.take(Staging.MAX_BYTES));
        }
        many.forEach(staging::give);
        Set<MemorySegment> kept = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            kept.add(staging.take(Staging.MAX_BYTES));
        }
        kept.retainAll(many);
        assertEquals(8, kept.size(), "the pool keeps 256 KiB of a size, at least 8 pieces: the rest went to the GC");
    }
}
