package org.memreg.stat;

import static org.memreg.stat.CountersFile.ALLOCATED;
import static org.memreg.stat.CountersFile.HEADER_LENGTH;
import static org.memreg.stat.CountersFile.HEARTBEAT_OFFSET;
import static org.memreg.stat.CountersFile.INT;
import static org.memreg.stat.CountersFile.LABEL_MAX_BYTES;
import static org.memreg.stat.CountersFile.LAYOUT_VERSION;
import static org.memreg.stat.CountersFile.LONG;
import static org.memreg.stat.CountersFile.MAGIC;
import static org.memreg.stat.CountersFile.MAGIC_OFFSET;
import static org.memreg.stat.CountersFile.NAME_LENGTH_OFFSET;
import static org.memreg.stat.CountersFile.NAME_MAX_BYTES;
import static org.memreg.stat.CountersFile.NAME_OFFSET;
import static org.memreg.stat.CountersFile.PID_OFFSET;
import static org.memreg.stat.CountersFile.SETS_OFFSET;
import static org.memreg.stat.CountersFile.SET_COUNT_OFFSET;
import static org.memreg.stat.CountersFile.SET_GENERATION_OFFSET;
import static org.memreg.stat.CountersFile.SET_HEADER_LENGTH;
import static org.memreg.stat.CountersFile.SET_KIND_OFFSET;
import static org.memreg.stat.CountersFile.SET_LENGTH_OFFSET;
import static org.memreg.stat.CountersFile.SET_NAME_LENGTH_OFFSET;
import static org.memreg.stat.CountersFile.SET_NAME_OFFSET;
import static org.memreg.stat.CountersFile.SET_STATE_OFFSET;
import static org.memreg.stat.CountersFile.SLOTS_PER_SET_OFFSET;
import static org.memreg.stat.CountersFile.SLOT_ID_OFFSET;
import static org.memreg.stat.CountersFile.SLOT_LABEL_LENGTH_OFFSET;
import static org.memreg.stat.CountersFile.SLOT_LABEL_OFFSET;
import static org.memreg.stat.CountersFile.SLOT_LENGTH;
import static org.memreg.stat.CountersFile.SLOT_LENGTH_OFFSET;
import static org.memreg.stat.CountersFile.START_TIME_OFFSET;
import static org.memreg.stat.CountersFile.SUFFIX;
import static org.memreg.stat.CountersFile.VERSION_OFFSET;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The reader side of {@code memreg stat}: lists the {@link CountersFile}s in a directory (one per
 * process) and reads the counter sets in each while their writers run. Reading maps the file
 * read-only, checks magic, layout version and sizes, and loads every value with acquire semantics,
 * so a value is never torn; a set freed or reused while it was read is left out (its state or
 * generation changed); anything wrong with the file is a {@link CountersFileException} with a
 * one-line reason.
 *
 * <p>A file is <em>dead</em> when no process has its pid, or the process with that pid started
 * after the file was made (the pid was reused): its writer crashed before deleting it.
 */
public final class CountersReader {
    /** Clock slack when comparing a process's start time with a file's (ticks of /proc are 10 ms). */
    static final long START_SLACK_MILLIS = 2_000;
    /**
     * A dead writer's file whose heartbeat is older than this is abandoned: {@link #removeIfAbandoned}
     * deletes it. Live writers beat every {@code memreg.stat.intervalMillis} (100 ms by default);
     * the margin keeps the file of a writer in another pid namespace, whose pid means nothing here.
     */
    public static final long ABANDONED_AFTER_MILLIS = 10_000;

    /** A counters file found in the directory, described from its name alone. */
    public record Listing(Path path, long pid, String name, boolean alive) {}

    /** One counter: its stable id ({@link CounterId#byId} may not know it), label and value. */
    public record Counter(int id, String label, long value) {}

    /**
     * One counter set at one moment.
     *
     * @param index      its record in the file
     * @param kind       what it counts for, or {@code null} when this version does not know its code
     * @param kindCode   the {@link SetKind#code()} in the file
     * @param generation how many times its record was allocated (a reused record has a higher one)
     */
    public record SetSnapshot(int index, SetKind kind, int kindCode, long generation, String name,
            List<Counter> counters) {

        /** The value of {@code counter}, if the set holds it. */
        public Optional<Long> value(CounterId counter) {
            return counters.stream().filter(c -> c.id() == counter.id()).map(Counter::value).findFirst();
        }

        /** How {@code memreg stat} names the kind ({@code kind-<code>} for one this version does not know). */
        public String kindLabel() {
            return kind != null ? kind.label() : "kind-" + kindCode;
        }
    }

    /** A file's header and its allocated sets at one moment, in record order. */
    public record Snapshot(Path path, long pid, String name, long startTimeMillis, long heartbeatMillis,
            boolean alive, List<SetSnapshot> sets) {

        /** The sets of {@code kind} named {@code name}. */
        public List<SetSnapshot> sets(SetKind kind, String name) {
            return sets.stream().filter(s -> s.kind() == kind && s.name().equals(name)).toList();
        }
    }

    private final Path directory;

    /** A reader of the files in {@code directory}. */
    public CountersReader(Path directory) {
        this.directory = directory;
    }

    /** The directory read. */
    public Path directory() {
        return directory;
    }

    /**
     * The counters files in the directory, by pid then name; empty when the directory does not
     * exist. Files not named {@code <pid>-<name>.stat} are skipped. Liveness is from the pid only;
     * {@link #read} also checks that the process is not younger than the file.
     */
    public List<Listing> list() throws IOException {
        List<Listing> listings = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path path : files) {
                String file = path.getFileName().toString();
                int dash = file.indexOf('-');
                if (dash <= 0) {
                    continue;
                }
                long pid;
                try {
                    pid = Long.parseLong(file.substring(0, dash));
                } catch (NumberFormatException e) {
                    continue;
                }
                String name = file.substring(dash + 1, file.length() - SUFFIX.length());
                listings.add(new Listing(path, pid, name, ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)));
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        listings.sort(Comparator.comparingLong(Listing::pid).thenComparing(Listing::name));
        return listings;
    }

    /**
     * Reads one file.
     *
     * @throws CountersFileException when it is missing, empty or still being created, truncated,
     *     not a counters file, or of another layout version
     */
    public static Snapshot read(Path path) throws CountersFileException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            long size = channel.size();
            if (size < HEADER_LENGTH) {
                throw new CountersFileException(path, size == 0 ? "empty (still being created, or truncated)"
                        : "truncated: " + size + " bytes, the header alone is " + HEADER_LENGTH);
            }
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return read(path, segment);
        } catch (CountersFileException e) {
            throw e;
        } catch (NoSuchFileException e) {
            throw new CountersFileException(path, "no such file (its writer closed it)", e);
        } catch (IOException e) {
            throw new CountersFileException(path, "cannot read: " + e, e);
        } catch (InternalError e) {
            // A mapped read past the end of a file truncated under us faults (SIGBUS).
            throw new CountersFileException(path, "truncated while being read", e);
        }
    }

    private static Snapshot read(Path path, MemorySegment segment) throws CountersFileException {
        long magic = (long) LONG.getAcquire(segment, (long) MAGIC_OFFSET);
        if (magic == 0) {
            throw new CountersFileException(path, "no magic yet (still being created, or not a counters file)");
        }
        if (magic != MAGIC) {
            throw new CountersFileException(path, "not a memreg counters file (bad magic)");
        }
        int version = segment.get(ValueLayout.JAVA_INT, VERSION_OFFSET);
        if (version != LAYOUT_VERSION) {
            throw new CountersFileException(path, "layout version " + version + ", this reader knows " + LAYOUT_VERSION);
        }
        int sets = segment.get(ValueLayout.JAVA_INT, SETS_OFFSET);
        int setLength = segment.get(ValueLayout.JAVA_INT, SET_LENGTH_OFFSET);
        int slots = segment.get(ValueLayout.JAVA_INT, SLOTS_PER_SET_OFFSET);
        int slotLength = segment.get(ValueLayout.JAVA_INT, SLOT_LENGTH_OFFSET);
        if (sets < 0 || slots < 0 || slotLength < SLOT_LENGTH || slotLength % 8 != 0 || setLength % 8 != 0
                || setLength < SET_HEADER_LENGTH + (long) slots * (slotLength + Long.BYTES)) {
            throw new CountersFileException(path, "corrupt header: " + sets + " sets of " + setLength + " bytes, "
                    + slots + " slots of " + slotLength + " bytes");
        }
        long needed = HEADER_LENGTH + (long) sets * setLength;
        if (segment.byteSize() < needed) {
            throw new CountersFileException(path, "truncated: " + segment.byteSize() + " bytes, " + sets
                    + " sets need " + needed);
        }
        long pid = segment.get(ValueLayout.JAVA_LONG, PID_OFFSET);
        long startTime = segment.get(ValueLayout.JAVA_LONG, START_TIME_OFFSET);
        String name = string(path, segment, NAME_LENGTH_OFFSET, NAME_OFFSET, NAME_MAX_BYTES);
        List<SetSnapshot> snapshots = new ArrayList<>();
        for (int i = 0; i < sets; i++) {
            SetSnapshot set = readSet(path, segment, i, HEADER_LENGTH + (long) i * setLength, slots, slotLength);
            if (set != null) {
                snapshots.add(set);
            }
        }
        long heartbeat = (long) LONG.getAcquire(segment, (long) HEARTBEAT_OFFSET);
        return new Snapshot(path, pid, name, startTime, heartbeat, isAlive(pid, startTime), List.copyOf(snapshots));
    }

    /** The set in record {@code index}, or null when it is not allocated or was freed or reused meanwhile. */
    private static SetSnapshot readSet(Path path, MemorySegment segment, int index, long record, int slots,
                                       int slotLength) throws CountersFileException {
        int state = (int) INT.getAcquire(segment, record + SET_STATE_OFFSET);
        long generation = (long) LONG.getAcquire(segment, record + SET_GENERATION_OFFSET);
        if (state != ALLOCATED) {
            return null;
        }
        int kind = segment.get(ValueLayout.JAVA_INT, record + SET_KIND_OFFSET);
        int count = segment.get(ValueLayout.JAVA_INT, record + SET_COUNT_OFFSET);
        if (count < 0 || count > slots) {
            throw new CountersFileException(path, "corrupt set " + index + ": " + count + " counters, room for " + slots);
        }
        String name = string(path, segment, record + SET_NAME_LENGTH_OFFSET, record + SET_NAME_OFFSET, NAME_MAX_BYTES);
        List<Counter> counters = new ArrayList<>(count);
        long values = record + SET_HEADER_LENGTH + (long) slots * slotLength;
        for (int j = 0; j < count; j++) {
            long slot = record + SET_HEADER_LENGTH + (long) j * slotLength;
            int id = segment.get(ValueLayout.JAVA_INT, slot + SLOT_ID_OFFSET);
            String label = string(path, segment, slot + SLOT_LABEL_LENGTH_OFFSET, slot + SLOT_LABEL_OFFSET,
                    LABEL_MAX_BYTES);
            long value = (long) LONG.getAcquire(segment, values + (long) j * Long.BYTES);
            counters.add(new Counter(id, label, value));
        }
        VarHandle.loadLoadFence(); // the values above were loaded before the state is checked again
        if ((int) INT.getAcquire(segment, record + SET_STATE_OFFSET) != ALLOCATED
                || (long) LONG.getAcquire(segment, record + SET_GENERATION_OFFSET) != generation) {
            return null; // freed or reused while being read
        }
        return new SetSnapshot(index, SetKind.byCode(kind), kind, generation, name, List.copyOf(counters));
    }

    private static String string(Path path, MemorySegment segment, long lengthOffset, long offset, int max)
            throws CountersFileException {
        int length = segment.get(ValueLayout.JAVA_INT, lengthOffset);
        if (length < 0 || length > max) {
            throw new CountersFileException(path, "corrupt header: a string of " + length + " bytes (at most " + max + ")");
        }
        return new String(segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /**
     * Deletes {@code path} if its writer is dead (no process has its pid, or one that started after
     * the file) and its heartbeat is more than {@value #ABANDONED_AFTER_MILLIS} ms old.
     *
     * @return the snapshot read just before deleting it, or empty when the file was kept
     * @throws CountersFileException when the file cannot be read (it is kept then)
     * @throws IOException when it cannot be deleted (permission)
     */
    public static Optional<Snapshot> removeIfAbandoned(Path path) throws IOException {
        Snapshot snapshot = read(path);
        if (snapshot.alive() || System.currentTimeMillis() - snapshot.heartbeatMillis() <= ABANDONED_AFTER_MILLIS) {
            return Optional.empty();
        }
        Files.deleteIfExists(path);
        return Optional.of(snapshot);
    }

    /** Whether a process with {@code pid} runs and is not younger than a file made at {@code fileStartMillis}. */
    static boolean isAlive(long pid, long fileStartMillis) {
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty() || !process.get().isAlive()) {
            return false;
        }
        return process.get().info().startInstant()
                .map(started -> started.toEpochMilli() <= fileStartMillis + START_SLACK_MILLIS)
                .orElse(true);
    }
}
