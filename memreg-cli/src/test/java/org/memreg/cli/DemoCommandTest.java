package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.linux.Pagemap;
import org.memreg.testkit.Unprivileged;

/**
 * The demo in a short run: its tables must tell the story of seeds 000 and 002, for root (who sees
 * physical frames) and for everyone else alike.
 */
@Unprivileged
class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void shortDemoShouldShowStaleTransfersOnlyForTheNaiveCache() throws Exception {
        Path plot = dir.resolve("demo.png");
        MainTest.Result result = MainTest.run("demo", "--seconds", "0.4", "--sizes", "4k,64k", "--plot", plot.toString());
        assertEquals(0, result.status(), result.err());
        System.out.println(result.out());
        Map<String, List<String[]>> tables = tables(result.out());
        assertEquals(List.of("register every time", "naive cache", "memreg (cache + userfaultfd)"),
                List.copyOf(tables.keySet()));
        for (Map.Entry<String, List<String[]>> table : tables.entrySet()) {
            assertEquals(2, table.getValue().size(), table.getKey() + ": a row per size");
            for (String[] row : table.getValue()) {
                String nicSaw = row[row.length - 1];
                long stale = number(row[row.length - 2]);
                long reallocations = number(row[row.length - 3]);
                assertTrue(reallocations > 0, table.getKey() + ": buffers were reallocated");
                if (table.getKey().startsWith("naive")) {
                    assertTrue(stale > 0, "the naive cache transfers through stale registrations");
                } else {
                    assertEquals(0, stale, table.getKey() + " never transfers through a stale registration");
                }
                if (Pagemap.pfnsVisible()) {
                    long caught = number(nicSaw);
                    assertTrue(caught <= stale, "the NIC catches only stale transfers: " + String.join(" ", row));
                    assertTrue(caught > 0 || !table.getKey().startsWith("naive"), "the NIC caught the naive cache");
                } else {
                    assertEquals("n/a", nicSaw, "frames hidden: the NIC cannot tell");
                }
                if (table.getKey().startsWith("memreg")) {
                    double hitRate = Double.parseDouble(row[2].replace("%", ""));
                    assertTrue(hitRate > 90, "memreg's hit rate above 90%: " + hitRate);
                }
            }
        }
        assertEquals(!Pagemap.pfnsVisible(), result.out().contains("Stale detection by the NIC needs physical frames"),
                "says why the NIC sees nothing when frames are hidden: " + result.out());
        assertTrue(result.out().contains("Plot written to " + plot.toAbsolutePath()), result.out());
        BufferedImage image = ImageIO.read(plot.toFile());
        assertTrue(image != null && image.getHeight() > 100, "a valid PNG");
        assertTrue(image.getWidth() >= 2 * 900, "throughput and stale transfers side by side: " + image.getWidth());
        assertTrue(result.err().contains("100%"), "progress reached the end: " + result.err());
    }

    @Test
    void badFlagsShouldGiveUsageNotAStackTrace() {
        for (String[] args : List.of(new String[] {"demo", "--sizes", "huge"}, new String[] {"demo", "--seconds", "-1"},
                new String[] {"demo", "--buffers", "0"}, new String[] {"demo", "--sizes", "0"})) {
            MainTest.Result result = MainTest.run(args);
            assertEquals(2, result.status(), String.join(" ", args) + ": " + result.err());
            assertTrue(result.err().contains("Usage:"), result.err());
            assertFalse(result.err().contains("Exception"), result.err());
        }
    }

    /**
     * Rows of each "== strategy ==" table (the indented lines after it but its header), split on
     * whitespace (numbers keep their commas).
     */
    static Map<String, List<String[]>> tables(String out) {
        Map<String, List<String[]>> tables = new LinkedHashMap<>();
        List<String[]> current = null;
        for (String line : out.lines().toList()) {
            if (line.startsWith("== ") && line.endsWith(" ==")) {
                current = new ArrayList<>();
                tables.put(line.substring(3, line.length() - 3), current);
            } else if (current != null && line.startsWith(" ") && !line.strip().startsWith("size")) {
                String[] cells = line.strip().split("\\s+");
                // "4 KiB" is two cells: glue the unit back on.
                List<String> glued = new ArrayList<>(List.of(cells[0] + " " + cells[1]));
                glued.addAll(List.of(cells).subList(2, cells.length));
                current.add(glued.toArray(String[]::new));
            }
        }
        return tables;
    }

    static long number(String cell) {
        return Long.parseLong(cell.replace(",", ""));
    }
}
