package org.memreg.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** PageCounts against a plain per-page array model, with random operations. */
class PageCountsTest {
    @Test
    void shouldMatchAPerPageModel() {
        long seed = TestSeeds.seed("PageCountsTest");
        SplittableRandom random = new SplittableRandom(seed);
        int pages = 40;
        int[] model = new int[pages];
        PageCounts counts = new PageCounts();
        List<int[]> live = new ArrayList<>();
        for (int step = 0; step < 20_000; step++) {
            if (live.isEmpty() || random.nextInt(2) == 0) {
                int first = random.nextInt(pages);
                int end = first + 1 + random.nextInt(pages - first);
                List<long[]> rose = counts.increment(first, end);
                assertEquals(ranges(model, first, end, 0), render(rose), "0->1 at step " + step);
                for (int p = first; p < end; p++) {
                    model[p]++;
                }
                live.add(new int[] {first, end});
            } else {
                int[] range = live.remove(random.nextInt(live.size()));
                List<long[]> fell = counts.decrement(range[0], range[1]);
                assertEquals(ranges(model, range[0], range[1], 1), render(fell), "1->0 at step " + step);
                for (int p = range[0]; p < range[1]; p++) {
                    model[p]--;
                }
            }
            long covered = 0;
            for (int c : model) {
                covered += c > 0 ? 1 : 0;
            }
            assertEquals(covered, counts.coveredBytes(), "covered at step " + step);
            assertEquals(modelRuns(model), counts.toString(), "runs at step " + step);
            assertTrue(counts.runCount() <= pages);
        }
        assertEquals(ranges(model, 0, pages, -1), render(counts.coveredRanges()));
    }

    @Test
    void shouldRefuseToDecrementWhatIsNotCounted() {
        PageCounts counts = new PageCounts();
        counts.increment(0, 10);
        assertThrows(IllegalStateException.class, () -> counts.decrement(5, 15));
        assertEquals(10, counts.coveredBytes());
    }

    private static String modelRuns(int[] model) {
        StringBuilder text = new StringBuilder();
        for (int p = 0; p < model.length; ) {
            int q = p;
            while (q < model.length && model[q] == model[p]) {
                q++;
            }
            if (model[p] > 0) {
                text.append(String.format("[%d,%d)x%d", p, q, model[p]));
            }
            p = q;
        }
        return text.toString();
    }

    // Maximal sub-ranges of [first, end) whose count equals 'count' (-1: any non-zero count).
    private static String ranges(int[] model, int first, int end, int count) {
        StringBuilder text = new StringBuilder();
        int start = -1;
        for (int p = first; p <= end; p++) {
            boolean in = p < end && (count < 0 ? model[p] > 0 : model[p] == count);
            if (in && start < 0) {
                start = p;
            } else if (!in && start >= 0) {
                text.append('[').append(start).append(',').append(p).append(')');
                start = -1;
            }
        }
        return text.toString();
    }

    private static String render(List<long[]> ranges) {
        StringBuilder text = new StringBuilder();
        for (long[] range : ranges) {
            text.append('[').append(range[0]).append(',').append(range[1]).append(')');
        }
        return text.toString();
    }
}
