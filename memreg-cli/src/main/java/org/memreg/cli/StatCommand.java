package org.memreg.cli;

import java.io.Console;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.memreg.stat.CountersFile;
import org.memreg.stat.CountersFileException;
import org.memreg.stat.CountersReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code memreg stat}: the counters of every running memreg cache, ODP region and ODP mapping on
 * this host, read from their processes' {@link CountersFile}s (one per process, a set per
 * component), printed like AeronStat ({@code id: value - label}) under a line naming each set's
 * kind and name. A file whose process died is listed as dead; {@code --clean}
 * removes it once its heartbeat is {@link CountersReader#ABANDONED_AFTER_MILLIS} old (a younger
 * one may belong to a process in another pid namespace). Without {@code --clean} nothing is
 * removed: reading counters never deletes anything.
 */
@Command(name = "stat", description = {"Show the counters of running memreg caches and ODP regions (like AeronStat).",
        "Reads the counters files in --dir (default: memreg.stat.dir, else /dev/shm/memreg-<user>, this user's).",
        "Files of processes that died are shown as dead; --clean removes those whose heartbeat is 10 s old."})
final class StatCommand implements Callable<Integer> {
    private static final String CLEAR_SCREEN = "\u001b[H\u001b[2J";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT);

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--pid", paramLabel = "PID", converter = PidConverter.class, description = "Only this process.")
    Long pid;

    @Option(names = "--dir", paramLabel = "DIR", description = "Directory of counters files.")
    Path dir;

    @Option(names = "--watch", description = "Refresh until interrupted (or --count refreshes).")
    boolean watch;

    @Option(names = "--count", paramLabel = "N", description = "Stop after N refreshes (implies --watch).")
    Integer count;

    @Option(names = "--clean", description = "Remove the files of processes that died (heartbeat at least 10 s old).")
    boolean clean;

    @Option(names = "--interval", paramLabel = "MS", defaultValue = "1000",
            description = "Milliseconds between refreshes (default: ${DEFAULT-VALUE}).")
    long intervalMillis;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (count != null && count < 1) {
            throw new ParameterException(spec.commandLine(), "--count must be at least 1, got " + count);
        }
        if (intervalMillis < 1) {
            throw new ParameterException(spec.commandLine(), "--interval must be at least 1 ms, got " + intervalMillis);
        }
        if (dir != null && Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new ParameterException(spec.commandLine(), "--dir " + dir
                    + ": not a directory (expected the directory of counters files, such as " + CountersFile.DIR_DEFAULT + ")");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        CountersReader reader = new CountersReader(dir != null ? dir : CountersFile.directory());
        boolean repeat = watch || count != null;
        Console console = System.console();
        boolean terminal = console != null && console.isTerminal();
        int found = 0;
        for (int refresh = 1; ; refresh++) {
            if (repeat) {
                out.print(terminal ? CLEAR_SCREEN : refresh > 1 ? "\n" : "");
            }
            found = print(reader, out, err);
            out.flush();
            err.flush();
            if (!repeat || (count != null && refresh >= count)) {
                break;
            }
            Thread.sleep(intervalMillis);
        }
        return found > 0 || pid == null ? 0 : 1;
    }

    /** Prints one block; returns how many files matched. */
    private int print(CountersReader reader, PrintWriter out, PrintWriter err) throws IOException {
        List<CountersReader.Listing> listings;
        try {
            listings = reader.list().stream().filter(l -> pid == null || l.pid() == pid).toList();
        } catch (IOException e) {
            throw new IOException("cannot list the counters files in " + reader.directory() + ": " + FileErrors.reason(e), e);
        }
        out.printf("%s - memreg stat %s%n", LocalDateTime.now().format(TIME), reader.directory());
        if (listings.isEmpty()) {
            out.printf("no memreg counters%s in %s%n", pid == null ? "" : " for pid " + pid, reader.directory());
            return 0;
        }
        long now = System.currentTimeMillis();
        for (CountersReader.Listing listing : listings) {
            if (!listing.alive()) {
                out.printf("pid %d %s: dead (process gone), %s%n", listing.pid(), listing.name(), deadFile(listing.path(), now));
                continue;
            }
            CountersReader.Snapshot snapshot;
            try {
                snapshot = CountersReader.read(listing.path());
            } catch (CountersFileException e) {
                out.printf("pid %d %s: unreadable%n", listing.pid(), listing.name());
                err.println("memreg stat: " + e.getMessage());
                continue;
            }
            if (!snapshot.alive()) {
                out.printf("pid %d %s: dead (pid reused since), %s%n", listing.pid(), listing.name(),
                        deadFile(listing.path(), now));
                continue;
            }
            out.printf("pid %d %s - started %s, heartbeat %d ms ago, %d %s%n", snapshot.pid(), snapshot.name(),
                    LocalDateTime.ofInstant(Instant.ofEpochMilli(snapshot.startTimeMillis()), ZoneId.systemDefault())
                            .format(TIME),
                    Math.max(0, now - snapshot.heartbeatMillis()), snapshot.sets().size(),
                    snapshot.sets().size() == 1 ? "set" : "sets");
            for (CountersReader.SetSnapshot set : snapshot.sets()) {
                out.printf("  %s %s:%n", set.kindLabel(), set.name());
                for (CountersReader.Counter counter : set.counters()) {
                    out.printf(Locale.ROOT, "  %3d: %,26d - %s%n", counter.id(), counter.value(), counter.label());
                }
            }
        }
        return listings.size();
    }

    /** With --clean removes a dead writer's file once it is abandoned; says what became of it. */
    private String deadFile(Path path, long now) {
        if (!clean) {
            return "file " + path + " (memreg stat --clean removes it)";
        }
        try {
            return CountersReader.removeIfAbandoned(path)
                    .map(s -> "removed its file " + path + " (last heartbeat " + ago(now - s.heartbeatMillis()) + ")")
                    .orElse("file kept for now (heartbeat within " + CountersReader.ABANDONED_AFTER_MILLIS / 1000
                            + " s: it may have just died, or run in another pid namespace) " + path);
        } catch (CountersFileException e) {
            return "unreadable file " + path + " kept (" + e.getMessage() + ")";
        } catch (IOException e) {
            return "stale file " + path + " (cannot remove it: " + FileErrors.reason(e) + ")";
        }
    }

    private static String ago(long millis) {
        long seconds = Math.max(0, millis) / 1000;
        return seconds < 120 ? seconds + " s ago" : seconds < 7200 ? seconds / 60 + " min ago" : seconds / 3600 + " h ago";
    }
}
