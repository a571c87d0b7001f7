package org.memreg.stat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.memreg.linux.ProcStatus;

/**
 * The writer side of {@code memreg stat}: one cache's counters in a small memory-mapped file that
 * another process ({@link CountersReader}, the {@code memreg stat} command) reads while the cache
 * runs, in the manner of Aeron's CnC counters and AeronStat.
 *
 * <h2>Where</h2>
 * The directory is {@value #DIR_PROP_NAME} when set, else {@code /dev/shm/memreg-<user>}, else
 * (no {@code /dev/shm}) {@code ${java.io.tmpdir}/memreg-<user>}; see {@link #directory()}. It is
 * created when missing (the per-user default mode 0700, and refused when another user owns it).
 * The file is {@code <pid>-<name>.stat}, the name sanitized ({@link #sanitize(String)}); when a
 * process opens the same name twice the second file gets
 * {@code <name>-2}, and so on. Closing deletes the file; a process that dies leaves it behind, and
 * readers list it as dead (its pid is gone, or belongs to a process started after the file).
 *
 * <h2>Layout</h2>
 * All numbers are in the host's native byte order (the reader runs on the same host).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |            magic "MEMREGST" (8 ASCII bytes, written last)      |   0
 *  +-------------------------------+-------------------------------+
 *  |      layout version (= 1)     |      counter count N          |   8
 *  +-------------------------------+-------------------------------+
 *  |                          pid (8)                              |  16
 *  +---------------------------------------------------------------+
 *  |            start time, ms since the epoch (8)                 |  24
 *  +---------------------------------------------------------------+
 *  |     heartbeat, ms since the epoch (8, release / acquire)      |  32
 *  +-------------------------------+-------------------------------+
 *  |     slot length (= 64)        |    name length in bytes       |  40
 *  +-------------------------------+-------------------------------+
 *  |              name, UTF-8, zero padded (64 bytes)              |  48
 *  |                             ...                               |
 *  +---------------------------------------------------------------+
 *  |                       reserved (16)                           | 112
 *  +===============================================================+
 *  |  counter slot 0 .. N-1, 64 bytes each, at 128 + i * 64:       | 128
 *  +-------------------------------+-------------------------------+
 *  |     counter id (4)            |   label length in bytes (4)   |  +0
 *  +-------------------------------+-------------------------------+
 *  |              value (8, release / acquire)                     |  +8
 *  +---------------------------------------------------------------+
 *  |              label, UTF-8, zero padded (48 bytes)             | +16
 *  |                             ...                               |
 *  +---------------------------------------------------------------+
 * </pre>
 * Everything but the value and heartbeat is written once, before the magic; the magic is stored
 * with release semantics, so a reader that sees it (with acquire) sees a complete header. Values
 * and the heartbeat are 8-byte aligned longs stored with release and loaded with acquire: a
 * reader never sees a torn value, and values written before another (in program order) are
 * visible when that one is. Counter ids are {@link CounterId}s; labels are stored so that a
 * reader older than the writer can still show new counters.
 *
 * <p>Thread-safety: {@link #set}, {@link #publish} and {@link #heartbeat} may be called from any
 * thread, and concurrently (each value is stored atomically; the last store wins). After
 * {@link #close()} they throw {@link IllegalStateException}.
 */
public final class CountersFile implements AutoCloseable {
    /** The directory of counters files. */
    public static final String DIR_PROP_NAME = "memreg.stat.dir";
    /**
     * Default of {@link #DIR_PROP_NAME} when {@code /dev/shm} exists: {@code /dev/shm/memreg-<user>}
     * (see {@link #directory()}), one per user like Aeron's, made mode 0700.
     */
    public static final String DIR_DEFAULT = "/dev/shm/memreg-" + userName();
    /** File name suffix of counters files. */
    public static final String SUFFIX = ".stat";

    static final byte[] MAGIC_BYTES = "MEMREGST".getBytes(StandardCharsets.US_ASCII);
    static final long MAGIC = ByteBuffer.wrap(MAGIC_BYTES).order(ByteOrder.nativeOrder()).getLong();
    static final int LAYOUT_VERSION = 1;
    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int COUNT_OFFSET = 12;
    static final int PID_OFFSET = 16;
    static final int START_TIME_OFFSET = 24;
    static final int HEARTBEAT_OFFSET = 32;
    static final int SLOT_LENGTH_OFFSET = 40;
    static final int NAME_LENGTH_OFFSET = 44;
    static final int NAME_OFFSET = 48;
    static final int NAME_MAX_BYTES = 64;
    static final int HEADER_LENGTH = 128;
    static final int SLOT_LENGTH = 64;
    static final int SLOT_ID_OFFSET = 0;
    static final int SLOT_LABEL_LENGTH_OFFSET = 4;
    static final int SLOT_VALUE_OFFSET = 8;
    static final int SLOT_LABEL_OFFSET = 16;
    static final int LABEL_MAX_BYTES = SLOT_LENGTH - SLOT_LABEL_OFFSET;
    /** Longest sanitized name, in characters (ASCII), leaving room for a {@code -N} suffix. */
    static final int NAME_MAX_CHARS = 48;

    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final Path path;
    private final String name;
    private final long pid;
    private final Arena arena;
    private final MemorySegment segment;
    /** Slot offset per {@link CounterId#ordinal()}, or -1 when the file does not hold it. */
    private final long[] offsetByOrdinal;
    private boolean closed;

    private CountersFile(Path path, String name, long pid, Arena arena, MemorySegment segment, long[] offsets) {
        this.path = path;
        this.name = name;
        this.pid = pid;
        this.arena = arena;
        this.segment = segment;
        this.offsetByOrdinal = offsets;
    }

    /**
     * {@link #DIR_PROP_NAME}, else {@code /dev/shm/memreg-<user>}, else (no {@code /dev/shm})
     * {@code ${java.io.tmpdir}/memreg-<user>}: a directory per user, so that one user's files
     * never stop another's (a shared directory made by root refused everyone else).
     */
    public static Path directory() {
        Path configured = configuredDirectory();
        return configured != null ? configured : perUserDirectory();
    }

    /** {@link #DIR_PROP_NAME} as a path, or null when it is not set. */
    private static Path configuredDirectory() {
        String configured = System.getProperty(DIR_PROP_NAME);
        return configured == null || configured.isBlank() ? null : Path.of(configured.strip());
    }

    /** {@value #DIR_PROP_NAME}'s default: {@link #DIR_DEFAULT}, or its name under the temporary directory. */
    private static Path perUserDirectory() {
        Path shm = Path.of(DIR_DEFAULT);
        return Files.isDirectory(shm.getParent()) ? shm
                : Path.of(System.getProperty("java.io.tmpdir"), shm.getFileName().toString());
    }

    /** This user's name for the default directory; {@code uid-<n>} when the JVM cannot tell. */
    private static String userName() {
        String name = System.getProperty("user.name", "");
        if (!name.isBlank() && !name.equals("?")) {
            return sanitize(name);
        }
        return "uid-" + ProcStatus.effectiveUid();
    }

    private static void prepare(Path directory) throws IOException {
        if (configuredDirectory() == null && directory.equals(perUserDirectory())) {
            preparePerUser(directory);
        } else {
            Files.createDirectories(directory); // a configured directory is the user's choice
        }
    }

    /**
     * Makes a per-user directory mode 0700 when missing, and refuses one that another user made:
     * they could read, fake or delete this user's counters.
     */
    static void preparePerUser(Path directory) throws IOException {
        try {
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException exists) {
            if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) { // a planted symbolic link, say
                throw notPublished(directory + " is not a directory");
            }
            int owner = (int) Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            long me = ProcStatus.effectiveUid();
            if (owner != me) {
                throw notPublished(directory + " belongs to uid " + owner + ", not to this process's uid " + me);
            }
        }
    }

    private static IOException notPublished(String why) {
        return new IOException(why + ": counters not published there (set -D" + DIR_PROP_NAME
                + "=DIR to a directory of your own)");
    }

    /** Creates the file for cache {@code name} in {@link #directory()}, holding every {@link CounterId}. */
    public static CountersFile create(String name) throws IOException {
        return create(directory(), name);
    }

    /** Creates the file for cache {@code name} in {@code directory}, holding every {@link CounterId}. */
    public static CountersFile create(Path directory, String name) throws IOException {
        return create(directory, name, EnumSet.allOf(CounterId.class));
    }

    /**
     * Creates the file for cache {@code name} in {@code directory} (made when missing) holding
     * {@code counters}, all zero, in {@link CounterId} order; the heartbeat is now.
     *
     * @throws IllegalArgumentException when {@code counters} is empty
     * @throws IOException when the directory or file cannot be made or mapped
     */
    public static CountersFile create(Path directory, String name, Set<CounterId> counters) throws IOException {
        if (counters.isEmpty()) {
            throw new IllegalArgumentException("a counters file needs at least one counter");
        }
        prepare(directory);
        String base = sanitize(name);
        long pid = ProcessHandle.current().pid();
        for (int attempt = 1; ; attempt++) {
            String unique = attempt == 1 ? base : base + "-" + attempt;
            Path path = directory.resolve(pid + "-" + unique + SUFFIX);
            FileChannel channel;
            try {
                channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                if (leftByEarlierProcess(path)) {
                    Files.deleteIfExists(path);
                    attempt--;
                } else if (attempt > 10_000) {
                    throw e;
                }
                continue;
            }
            try (channel) {
                return map(path, unique, pid, channel, EnumSet.copyOf(counters));
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(path);
                throw e;
            }
        }
    }

    private static CountersFile map(Path path, String name, long pid, FileChannel channel, Set<CounterId> counters)
            throws IOException {
        long length = HEADER_LENGTH + (long) counters.size() * SLOT_LENGTH;
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, length, arena);
            long now = System.currentTimeMillis();
            segment.set(ValueLayout.JAVA_INT, VERSION_OFFSET, LAYOUT_VERSION);
            segment.set(ValueLayout.JAVA_INT, COUNT_OFFSET, counters.size());
            segment.set(ValueLayout.JAVA_LONG, PID_OFFSET, pid);
            segment.set(ValueLayout.JAVA_LONG, START_TIME_OFFSET, now);
            segment.set(ValueLayout.JAVA_LONG, HEARTBEAT_OFFSET, now);
            segment.set(ValueLayout.JAVA_INT, SLOT_LENGTH_OFFSET, SLOT_LENGTH);
            putString(segment, NAME_LENGTH_OFFSET, NAME_OFFSET, NAME_MAX_BYTES, name);
            long[] offsets = new long[CounterId.count()];
            Arrays.fill(offsets, -1);
            long slot = HEADER_LENGTH;
            for (CounterId counter : counters) {
                segment.set(ValueLayout.JAVA_INT, slot + SLOT_ID_OFFSET, counter.id());
                putString(segment, slot + SLOT_LABEL_LENGTH_OFFSET, slot + SLOT_LABEL_OFFSET, LABEL_MAX_BYTES,
                        counter.label());
                offsets[counter.ordinal()] = slot + SLOT_VALUE_OFFSET;
                slot += SLOT_LENGTH;
            }
            LONG.setRelease(segment, (long) MAGIC_OFFSET, MAGIC);
            return new CountersFile(path, name, pid, arena, segment, offsets);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** A same-named file of ours that predates this JVM: our pid was reused after a crash. */
    private static boolean leftByEarlierProcess(Path path) {
        long startedAt = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli()).orElse(0L);
        try {
            return CountersReader.read(path).startTimeMillis() < startedAt - CountersReader.START_SLACK_MILLIS;
        } catch (CountersFileException e) {
            return false;
        }
    }

    private static void putString(MemorySegment segment, long lengthOffset, long offset, int max, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int length = Math.min(bytes.length, max);
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, offset, length);
        segment.set(ValueLayout.JAVA_INT, lengthOffset, length);
    }

    /**
     * The name as it goes into a file name: letters, digits, {@code .}, {@code _} and {@code -}
     * are kept, anything else (and a leading dot) becomes {@code _}; at most 48 characters; an
     * empty name becomes {@code cache}.
     */
    public static String sanitize(String name) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < name.length() && out.length() < NAME_MAX_CHARS; i++) {
            char c = name.charAt(i);
            boolean keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '-' || (c == '.' && !out.isEmpty());
            out.append(keep ? c : '_');
        }
        return out.isEmpty() ? "cache" : out.toString();
    }

    /** Where the file is. */
    public Path path() {
        return path;
    }

    /** The cache's name as written in the file (sanitized, with a {@code -N} suffix when needed). */
    public String name() {
        return name;
    }

    /** This process's id, as written in the file. */
    public long pid() {
        return pid;
    }

    /** Whether the file has a slot for {@code counter}. */
    public boolean has(CounterId counter) {
        return offsetByOrdinal[counter.ordinal()] >= 0;
    }

    /** Stores {@code value} (release); a counter the file does not hold is ignored. */
    public void set(CounterId counter, long value) {
        long offset = offsetByOrdinal[counter.ordinal()];
        if (offset >= 0) {
            LONG.setRelease(segment, offset, value);
        }
    }

    /**
     * Stores {@code valuesByOrdinal[c.ordinal()]} for every counter {@code c} the file holds, in
     * {@link CounterId} order, each with release semantics.
     *
     * @throws IllegalArgumentException when the array is shorter than {@link CounterId#count()}
     */
    public void publish(long[] valuesByOrdinal) {
        if (valuesByOrdinal.length < offsetByOrdinal.length) {
            throw new IllegalArgumentException("need " + offsetByOrdinal.length + " values, got " + valuesByOrdinal.length);
        }
        for (int i = 0; i < offsetByOrdinal.length; i++) {
            long offset = offsetByOrdinal[i];
            if (offset >= 0) {
                LONG.setRelease(segment, offset, valuesByOrdinal[i]);
            }
        }
    }

    /** Sets the heartbeat to now: readers show how long ago the writer was last heard from. */
    public void heartbeat() {
        LONG.setRelease(segment, (long) HEARTBEAT_OFFSET, System.currentTimeMillis());
    }

    /** Unmaps and deletes the file; idempotent. Concurrent writers get {@link IllegalStateException}. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            arena.close();
        } finally {
            Files.deleteIfExists(path);
        }
    }

    @Override
    public String toString() {
        return "CountersFile[" + path + "]";
    }
}
