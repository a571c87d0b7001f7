package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.Unprivileged;

/** {@code memreg bench --quick} once: every CSV has its columns and rows, every PNG is an image. */
@Unprivileged
class BenchCommandTest {
    @TempDir
    static Path dir;
    static MainTest.Result result;

    @BeforeAll
    static void runQuickBench() {
        result = MainTest.run("bench", "--quick", "--out", dir.toString());
        System.out.println(result.out());
    }

    @Test
    void quickBenchShouldSucceedAndSayWhereTheFilesWent() {
        assertEquals(0, result.status(), result.err());
        for (String sweep : List.of("hit", "reuse", "eviction", "unmap", "crossthread")) {
            assertTrue(result.out().contains("== " + sweep + " =="), "a table for " + sweep);
            for (String ext : List.of(".csv", ".png")) {
                assertTrue(result.out().contains("Wrote " + dir.resolve(sweep + ext).toAbsolutePath()), sweep + ext);
            }
        }
        assertTrue(result.err().contains("100%"), "progress reached the end: " + result.err());
    }

    @Test
    void hitCsvShouldHaveAHitRowPerPointAndMissRowsPerDevice() throws IOException {
        List<Map<String, String>> rows = csv("hit", "kind", "device", "buffers", "buffer_bytes", "operations",
                "ns_per_op", "hit_rate");
        // quick grid: buffers {1, 4, 16} x sizes {4k, 64k}; misses (sim NIC and mlock) need 2+ buffers.
        assertEquals(3 * 2 + 2 * 2 * 2, rows.size());
        for (Map<String, String> row : rows) {
            assertTrue(number(row, "operations") > 0 && number(row, "ns_per_op") > 0, row.toString());
            double hitRate = number(row, "hit_rate");
            if (row.get("kind").equals("hit")) {
                assertEquals("simnic", row.get("device"));
                assertTrue(hitRate > 0.99, "every acquire hits: " + row);
            } else {
                assertTrue(number(row, "buffers") >= 2 && hitRate < 0.01, "every acquire misses: " + row);
            }
        }
        assertEquals(4, rows.stream().filter(r -> r.get("device").equals("mlock")).count());
    }

    @Test
    void reuseCsvShouldHaveEveryStrategyAndSizeWithStaleOnlyForTheNaiveCache() throws IOException {
        List<Map<String, String>> rows = csv("reuse", "strategy", "device", "message_bytes", "operations", "seconds",
                "messages_per_second", "hit_rate", "registrations", "peak_pinned_bytes", "reallocations",
                "stale_transfers");
        assertEquals(5 * 2, rows.size(), "3 strategies on the sim NIC + 2 on mlock, 2 sizes");
        for (Map<String, String> row : rows) {
            assertTrue(number(row, "messages_per_second") > 0 && number(row, "peak_pinned_bytes") > 0, row.toString());
            if (row.get("strategy").equals("naive_cache")) {
                assertEquals("simnic", row.get("device"), row.toString());
                // The send right after a reallocation goes through the naive cache's old entry,
                // unless the buffer was never sent before: with 20 reallocations some were.
                assertTrue(number(row, "reallocations") < 20 || number(row, "stale_transfers") > 0,
                        "counted by the sender, root or not: " + row);
            } else {
                assertEquals(0, number(row, "stale_transfers"), row.toString());
            }
        }
    }

    @Test
    void evictionCsvShouldShowHitRateRisingWithTheBudget() throws IOException {
        List<Map<String, String>> rows = csv("eviction", "device", "limit", "budget_fraction", "budget_bytes",
                "working_set_bytes", "operations", "hit_rate", "evictions", "evictions_per_acquire", "ops_per_second");
        assertEquals(2 * 6, rows.size(), "sim NIC maxBytes and mlock pin budget, 6 fractions");
        for (String device : List.of("simnic", "mlock")) {
            List<Map<String, String>> mine = rows.stream().filter(r -> r.get("device").equals(device)).toList();
            assertEquals(List.of(0.125, 0.25, 0.5, 0.75, 1.0, 1.25),
                    mine.stream().map(r -> number(r, "budget_fraction")).toList());
            Map<String, String> smallest = mine.getFirst();
            Map<String, String> whole = mine.get(4);
            assertTrue(number(smallest, "hit_rate") < number(whole, "hit_rate"), mine.toString());
            assertTrue(number(smallest, "evictions") > 0, smallest.toString());
            assertEquals(0, number(whole, "evictions"), "the whole working set fits: " + whole);
            for (Map<String, String> row : mine) {
                assertTrue(number(row, "operations") > 0 && number(row, "ops_per_second") > 0, row.toString());
            }
        }
    }

    @Test
    void unmapCsvShouldHaveOrderedPercentilesPerSeries() throws IOException {
        List<Map<String, String>> rows = csv("unmap", "series", "samples", "mean_ns", "p50_ns", "p90_ns", "p99_ns",
                "p99_9_ns", "max_ns");
        assertEquals(List.of("munmap_to_invalid", "munmap_watched", "munmap_unwatched"),
                rows.stream().map(r -> r.get("series")).toList());
        for (Map<String, String> row : rows) {
            assertEquals(300, number(row, "samples"));
            double previous = 0;
            for (String column : List.of("p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "max_ns")) {
                assertTrue(number(row, column) > 0 && number(row, column) >= previous, column + ": " + row);
                previous = number(row, column);
            }
        }
    }

    @Test
    void crossThreadCsvShouldCountStaleHitsPerMonitorAndThreads() throws IOException {
        List<Map<String, String>> rows = csv("crossthread", "monitor", "reader", "threads", "acquires",
                "stale_transfers", "stale_fraction", "hits", "refused");
        // quick grid: every monitor x threads {1, 2}, 60 acquires per row
        List<String> monitors = List.of("none", "userfaultfd", "userfaultfd", "hooks", "hooks+userfaultfd", "strict",
                "auto");
        assertEquals(monitors.size() * 2, rows.size(), rows.toString());
        for (int i = 0; i < rows.size(); i++) {
            Map<String, String> row = rows.get(i);
            assertEquals(monitors.get(i / 2), row.get("monitor"));
            assertEquals(i % 2 + 1, number(row, "threads"));
            assertEquals(60, number(row, "acquires"), row.toString());
            assertTrue(number(row, "stale_transfers") <= number(row, "hits"), "a stale transfer needs a hit: " + row);
            if (number(row, "threads") == 1 && !row.get("monitor").equals("none")) {
                assertEquals(0, number(row, "hits"), "one thread never races itself: " + row);
            }
            if (row.get("monitor").contains("hooks") || row.get("monitor").equals("strict")) {
                assertEquals(0, number(row, "hits"), "no stale hit with hooks or strict: " + row);
            }
        }
        assertEquals("-", rows.get(0).get("reader"));
        assertEquals("normal", rows.get(4).get("reader"), "the second userfaultfd row has a normal-priority reader");
    }

    @Test
    void everyPngShouldBeAnImage() throws IOException {
        for (String sweep : List.of("hit", "reuse", "eviction", "unmap", "crossthread")) {
            BufferedImage image = ImageIO.read(dir.resolve(sweep + ".png").toFile());
            assertNotNull(image, sweep + ".png is an image");
            assertTrue(image.getWidth() >= 800 && image.getHeight() >= 400, sweep + ".png size");
        }
    }

    @Test
    void badFlagsShouldGiveUsageNotAStackTrace(@TempDir Path other) throws IOException {
        Path file = Files.writeString(other.resolve("file.txt"), "in the way");
        for (String[] args : List.of(new String[] {"bench", "--no-such-flag"}, new String[] {"bench", "--seconds", "-1"},
                new String[] {"bench", "--seconds", "0"}, new String[] {"bench", "--seconds", "soon"},
                new String[] {"bench", "--only", "bogus"}, new String[] {"bench", "--only", "hit,bogus"},
                new String[] {"bench", "--samples", "0"}, new String[] {"bench", "--max-memory", "lots"},
                new String[] {"bench", "--out", file.toString()},
                new String[] {"bench", "--out", file.resolve("sub").toString()})) {
            MainTest.Result bad = MainTest.run(args);
            String what = String.join(" ", args) + ": " + bad.err();
            assertEquals(2, bad.status(), what);
            assertTrue(bad.err().contains("Usage:"), what);
            assertFalse(bad.err().contains("Exception") || bad.err().contains("\tat "), what);
            assertEquals("", bad.out(), what);
        }
        assertTrue(MainTest.run("bench", "--out", file.toString()).err().contains("cannot write there"));
    }

    /** The CSV's rows as column-to-cell maps, after checking its header. */
    private static List<Map<String, String>> csv(String sweep, String... columns) throws IOException {
        List<String> lines = Files.readAllLines(dir.resolve(sweep + ".csv"));
        assertEquals(String.join(",", columns), lines.getFirst(), sweep + ".csv header");
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            assertEquals(columns.length, cells.length, line);
            Map<String, String> row = new LinkedHashMap<>();
            for (int i = 0; i < cells.length; i++) {
                row.put(columns[i], cells[i]);
            }
            rows.add(row);
        }
        return rows;
    }

    private static double number(Map<String, String> row, String column) {
        return Double.parseDouble(row.get(column));
    }
}
