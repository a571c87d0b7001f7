package org.memreg.util;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A flood of bad messages costs a count per message: the description of one is made only when
 * a line is written, at most once a second.
 */
class WarningsTest {
    @Test
    void aFloodShouldDescribeOnlyTheMessagesItLogs() {
        Warnings warnings = new Warnings(WarningsTest.class, "memreg test warnings");
        AtomicInteger described = new AtomicInteger();
        for (int i = 0; i < 10_000; i++) {
            int n = i;
            warnings.warn(() -> {
                described.incrementAndGet();
                return "message " + n;
            });
        }
        // the first is logged; the rest come within the second (10,000 calls take milliseconds)
        // unless the machine stalls for a second in between, which logs one more
        int lines = described.get();
        assertTrue(lines >= 1 && lines <= 3, "descriptions made: " + lines);
    }
}
