package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.stat.CounterId;
import org.memreg.stat.CountersFile;
import org.memreg.stat.CountersReader;
import org.memreg.stat.SetKind;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class StatCommandTest {
    private static final Pattern COUNTER = Pattern.compile("^\\s*(\\d+):\\s+(-?[\\d,]+) - (\\S+)$");
    private static final Pattern SET = Pattern.compile("^  (\\S+) (\\S+):$");

    @TempDir
    Path dir;

    /** A {@link StatChild} running in its own JVM, with what it printed before {@code ready}. */
    record Child(Process process, long pid, Path path, Map<String, Long> counters) implements AutoCloseable {
        static Child start(Path dir, String name) throws IOException {
            return start(StatChild.class, dir, name);
        }

        static Child start(Class<?> main, Path dir, String name, String... more) throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), main.getName(), dir.toString(), name));
            command.addAll(List.of(more));
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            Map<String, String> printed = new LinkedHashMap<>();
            Map<String, Long> counters = new LinkedHashMap<>();
            for (String line = lines.readLine(); !"ready".equals(line); line = lines.readLine()) {
                if (line == null) {
                    process.destroyForcibly();
                    throw new AssertionError("child exited before ready: " + printed);
                }
                String[] keyValue = line.split("=", 2);
                printed.put(keyValue[0], keyValue[1]);
                if (keyValue[0].startsWith("counter.")) {
                    counters.put(keyValue[0].substring("counter.".length()), Long.parseLong(keyValue[1]));
                }
            }
            return new Child(process, Long.parseLong(printed.get("pid")), Path.of(printed.get("path")), counters);
        }

        /** Closes the child's stdin and waits for it to close its file and exit. */
        @Override
        public void close() throws IOException {
            process.getOutputStream().close();
            try {
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new AssertionError("child did not exit when its stdin closed");
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void shouldPrintTheCountersOfAnotherProcess() throws Exception {
        Child child = Child.start(dir, "child cache");
        try (child) {
            assertEquals(child.process().pid(), child.pid());
            MainTest.Result result = MainTest.run("stat", "--pid", Long.toString(child.pid()), "--dir", dir.toString());
            assertEquals(0, result.status(), result.err());
            System.out.print(result.out());
            assertTrue(result.out().contains("pid " + child.pid() + " memreg - started"), result.out());
            assertTrue(result.out().contains(", 3 sets\n"), result.out());
            assertEquals(List.of("cache child_cache", "odp-region odp-owner-1", "odp-mapping odp-peer-1"),
                    setNames(result.out()), "every set of the one file, in record order");
            assertEquals(child.counters(), counters(result.out()), "each set's own values");
            assertEquals(CounterId.cacheCounters().size() + 2 * CounterId.odpCounters().size(), child.counters().size());
            assertEquals(List.of(child.path()), new CountersReader(dir).list().stream().map(CountersReader.Listing::path)
                    .toList(), "one file for the process");
        }
        assertEquals(0, child.process().exitValue());
        assertFalse(Files.exists(child.path()), "the child's last set closed: the file is deleted");
        MainTest.Result after = MainTest.run("stat", "--pid", Long.toString(child.pid()), "--dir", dir.toString());
        assertEquals(1, after.status());
        assertTrue(after.out().contains("no memreg counters for pid " + child.pid()), after.out());
    }

    /** A process that exits (rather than dies) with its sets open leaves no file to be listed as dead. */
    @Test
    void shouldLeaveNoFileWhenAProcessExitsWithItsSetsOpen() throws Exception {
        Child child = Child.start(StatChild.class, dir, "left open", "exit");
        try (child) {
            assertTrue(Files.exists(child.path()));
        }
        assertEquals(0, child.process().exitValue());
        assertFalse(Files.exists(child.path()), "deleted at exit");
    }

    /** Issue 13's must-show: a cache, an ODP region and a mapping, all real, from one process's one file. */
    @Test
    void shouldShowARealCacheOdpRegionAndMappingOfAnotherProcessFromItsOneFile() throws Exception {
        Child child = Child.start(OdpStatChild.class, dir, "beside odp");
        try (child) {
            MainTest.Result result = MainTest.run("stat", "--pid", Long.toString(child.pid()), "--dir", dir.toString());
            assertEquals(0, result.status(), result.err());
            System.out.print(result.out());
            assertEquals(List.of("cache beside_odp", "odp-region odp-owner-76", "odp-mapping odp-peer-76"),
                    setNames(result.out()), "the three sets of the one file");
            Map<String, Long> shown = counters(result.out());
            assertEquals(child.counters(), shown, "memreg stat shows exactly the child's own stats()");
            assertTrue(shown.get("cache." + CounterId.HITS.id()) > 0, "the cache hit");
            assertEquals(4, shown.get("odp-region." + CounterId.ODP_PAGES_RECLAIMED.id()), "the owner reclaimed 4 pages");
            assertTrue(shown.get("odp-mapping." + CounterId.ODP_FAULTS.id()) > 0, "the peer faulted");
            assertEquals(List.of(child.path()), new CountersReader(dir).list().stream().map(CountersReader.Listing::path)
                    .toList(), "one file for the process");
        }
        assertFalse(Files.exists(child.path()), "the last set closed: the file is deleted");
    }

    @Test
    void shouldShowWhatARealCacheInAnotherJvmSaysOfItself() throws Exception {
        Child child = Child.start(CacheStatChild.class, dir, "real");
        try (child) {
            MainTest.Result result = MainTest.run("stat", "--pid", Long.toString(child.pid()), "--dir", dir.toString());
            assertEquals(0, result.status(), result.err());
            System.out.print(result.out());
            Map<String, Long> shown = counters(result.out());
            assertEquals(child.counters(), shown, "memreg stat shows exactly the child's own stats()");
            assertTrue(shown.get("cache." + CounterId.HITS.id()) > 0, "the child did hit");
            assertTrue(shown.get("cache." + CounterId.EVICTIONS_MAX_ENTRIES.id()) > 0, "and evict");
            assertTrue(shown.get("cache." + CounterId.INVALIDATIONS.id()) > 0, "and invalidate");
        }
        assertFalse(Files.exists(child.path()), "the cache deleted its file on close");
    }

    @Test
    void shouldRefreshCountTimesWhenWatching() throws Exception {
        try (CountersFile file = CountersFile.create(dir, "watched", 1, 0)) {
            file.allocate(SetKind.CACHE, "one");
            MainTest.Result result = MainTest.run("stat", "--dir", dir.toString(), "--watch", "--count", "3",
                    "--interval", "10");
            assertEquals(0, result.status(), result.err());
            assertEquals(3, result.out().split("- memreg stat ", -1).length - 1, result.out());
            assertEquals(3, result.out().split(" watched -", -1).length - 1, result.out());
            assertFalse(result.out().contains("\u001b["), "no ANSI codes when stdout is not a terminal");
            assertTrue(result.out().contains("pid " + file.pid() + " watched -"), result.out());
        }
    }

    @Test
    void shouldListDeadAndUnreadableFilesWithoutFailing() throws Exception {
        try (CountersFile file = CountersFile.create(dir, "template", 1, 0)) {
            Files.copy(file.path(), dir.resolve(Integer.MAX_VALUE + "-crashed.stat"));
            Files.write(dir.resolve(file.pid() + "-garbage.stat"), "garbage".repeat(100).getBytes());
            MainTest.Result result = MainTest.run("stat", "--dir", dir.toString(), "--clean");
            assertEquals(0, result.status(), result.err());
            assertTrue(result.out().contains("pid " + Integer.MAX_VALUE + " crashed: dead (process gone), file kept for now"),
                    "its heartbeat is recent: " + result.out());
            assertTrue(result.out().contains("pid " + file.pid() + " garbage: unreadable"), result.out());
            assertTrue(result.err().contains("garbage.stat: not a memreg counters file (bad magic)"), result.err());
            assertTrue(result.out().contains("pid " + file.pid() + " template - started"), result.out());
            assertFalse(result.err().contains("Exception"), result.err());
        }
    }

    @Test
    void shouldRemoveTheFileOfAProcessLongDeadOnlyWhenAskedAndListItNoMore() throws Exception {
        Path dead = dir.resolve((Integer.MAX_VALUE - 1) + "-crashed.stat");
        try (CountersFile file = CountersFile.create(dir, "template", 1, 0)) {
            Files.copy(file.path(), dead);
        }
        patchLong(dead, 16, Integer.MAX_VALUE - 1); // the pid in the header, as its writer would have written it
        patchLong(dead, 32, System.currentTimeMillis() - CountersReader.ABANDONED_AFTER_MILLIS - 60_000); // heartbeat
        MainTest.Result listed = MainTest.run("stat", "--dir", dir.toString());
        assertEquals(0, listed.status(), listed.err());
        assertTrue(listed.out().contains("pid " + (Integer.MAX_VALUE - 1) + " crashed: dead (process gone), file " + dead
                + " (memreg stat --clean removes it)"), listed.out());
        assertTrue(Files.exists(dead), "reading counters removes nothing");
        MainTest.Result first = MainTest.run("stat", "--dir", dir.toString(), "--clean");
        assertEquals(0, first.status(), first.err());
        assertTrue(first.out().contains("pid " + (Integer.MAX_VALUE - 1) + " crashed: dead (process gone), removed its file "
                + dead + " (last heartbeat "), first.out());
        assertFalse(Files.exists(dead), "removed");
        MainTest.Result second = MainTest.run("stat", "--dir", dir.toString());
        assertTrue(second.out().contains("no memreg counters in " + dir), "not listed again: " + second.out());
    }

    @Test
    void shouldShowPinnedBytesNextToRegisteredBytes() throws Exception {
        try (Child child = Child.start(OverlapCacheChild.class, dir, "overlap")) {
            MainTest.Result result = MainTest.run("stat", "--pid", Long.toString(child.pid()), "--dir", dir.toString());
            assertEquals(0, result.status(), result.err());
            System.out.print(result.out());
            List<String> lines = result.out().lines().toList();
            int registered = -1;
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).endsWith(" - registeredBytes")) {
                    registered = i;
                }
            }
            assertTrue(registered > 0 && lines.get(registered + 1).endsWith(" - pinnedBytes"), "next to each other: " + result.out());
            Map<String, Long> counters = counters(result.out());
            assertEquals(20 * 4096L, counters.get("cache." + CounterId.REGISTERED_BYTES.id()), "overlaps counted per registration");
            assertEquals(12 * 4096L, counters.get("cache." + CounterId.PINNED_BYTES.id()), "distinct pages");
        }
    }

    /** Overwrites the long at {@code offset} of a counters file (native order, as the layout says). */
    static void patchLong(Path path, long offset, long value) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).flip(), offset);
        }
    }

    @Test
    void anUnreadableDirectoryShouldSayPermissionDenied() {
        Path closed = Path.of("/root");
        assumeTrue(Files.isDirectory(closed) && !Files.isReadable(closed), "needs a directory this user cannot read"
                + " (/root, as anyone but root: the unprivileged run)");
        MainTest.Result result = MainTest.run("stat", "--dir", closed.toString());
        assertEquals(Main.FAILED, result.status(), result.out());
        assertEquals("memreg: cannot list the counters files in /root: permission denied on /root" + System.lineSeparator(),
                result.err());
        assertEquals("", result.out());
    }

    @Test
    void shouldSaySoWhenNothingRuns() {
        MainTest.Result result = MainTest.run("stat", "--dir", dir.resolve("absent").toString());
        assertEquals(0, result.status(), result.err());
        assertTrue(result.out().contains("no memreg counters in " + dir.resolve("absent")), result.out());
    }

    @Test
    void shouldRejectBadFlagsWithUsage() {
        for (String[] args : List.of(new String[] {"stat", "--bogus"}, new String[] {"stat", "--pid", "x"},
                new String[] {"stat", "--count", "0"})) {
            MainTest.Result result = MainTest.run(args);
            assertEquals(2, result.status(), String.join(" ", args) + ": " + result.err());
            assertTrue(result.err().contains("Usage:"), result.err());
            assertFalse(result.err().contains("Exception"), result.err());
        }
    }

    /** The {@code id: value - label} lines of one block, by {@code <set kind>.<id>}. */
    static Map<String, Long> counters(String out) {
        Map<String, Long> counters = new LinkedHashMap<>();
        String kind = null;
        for (String line : out.lines().toList()) {
            Matcher set = SET.matcher(line);
            if (set.matches()) {
                kind = set.group(1);
                continue;
            }
            Matcher m = COUNTER.matcher(line);
            if (m.matches()) {
                assertTrue(kind != null, "a counter before any set: " + out);
                assertEquals(null, counters.put(kind + "." + m.group(1), Long.parseLong(m.group(2).replace(",", ""))),
                        "one block, one set of each kind: " + out);
            }
        }
        return counters;
    }

    /** The {@code <kind> <name>} of each set shown, in order. */
    static List<String> setNames(String out) {
        return out.lines().map(SET::matcher).filter(Matcher::matches).map(m -> m.group(1) + " " + m.group(2)).toList();
    }
}
