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
import java.util.Set;
import org.memreg.linux.ProcStatus;

/**
 * The writer side of {@code memreg stat}: one memory-mapped file per process holding the counter
 * sets of all its components (caches, ODP regions, ODP mappings), which another process
 * ({@link CountersReader}, the {@code memreg stat} command) reads while they run, in the manner
 * of Aeron's CnC file, {@code CountersManager} and AeronStat. The code that counts writes its
 * {@link Counter} slot in the file directly; nothing copies values into it.
 *
 * <h2>Where</h2>
 * The directory is {@value #DIR_PROP_NAME} when set, else {@code /dev/shm/memreg-<user>}, else
 * (no {@code /dev/shm}) {@code ${java.io.tmpdir}/memreg-<user>}; see {@link #directory()}. It is
 * created when missing (the per-user default mode 0700, and refused when another user owns it).
 * The file is {@code <pid>-<name>.stat} ({@link ProcessCounters} names it {@code memreg}).
 * {@link #close()} deletes it; a process that dies leaves it behind, and readers list it as dead
 * (its pid is gone, or belongs to a process started after the file).
 *
 * <h2>Layout (version 3)</h2>
 * All numbers are in the host's native byte order (the reader runs on the same host). A header,
 * then {@code S} set records of {@code L} bytes each, each record {@code K} counter slots (what a
 * counter is) followed by {@code K} values (what it counts):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |            magic "MEMREGST" (8 ASCII bytes, written last)      |   0
 *  +-------------------------------+-------------------------------+
 *  |      layout version (= 3)     |    set records S              |   8
 *  +-------------------------------+-------------------------------+
 *  |                          pid (8)                              |  16
 *  +---------------------------------------------------------------+
 *  |            start time, ms since the epoch (8)                 |  24
 *  +---------------------------------------------------------------+
 *  |     heartbeat, ms since the epoch (8, release / acquire)      |  32
 *  +-------------------------------+-------------------------------+
 *  |   set record length L         |   slots per record K          |  40
 *  +-------------------------------+-------------------------------+
 *  |   slot length (= 64)          |    name length in bytes       |  48
 *  +-------------------------------+-------------------------------+
 *  |              name, UTF-8, zero padded (64 bytes)              |  56
 *  +---------------------------------------------------------------+
 *  |                        reserved (8)                           | 120
 *  +===============================================================+
 *  |  set record i (i = 0 .. S-1) at 128 + i * L:                  | 128
 *  +-------------------------------+-------------------------------+
 *  | state (4, release / acquire)  |   kind (4, a SetKind code)    |  +0
 *  +-------------------------------+-------------------------------+
 *  |  generation (8): +1 each time the record is allocated         |  +8
 *  +-------------------------------+-------------------------------+
 *  |   counter count n (n &lt;= K)    |    name length in bytes       | +16
 *  +-------------------------------+-------------------------------+
 *  |              name, UTF-8, zero padded (64 bytes)              | +24
 *  +---------------------------------------------------------------+
 *  |         freed at, ms since the epoch (8; state FREED)         | +88
 *  +---------------------------------------------------------------+
 *  |                        reserved (32)                          | +96
 *  +===============================================================+
 *  |  counter slot j (j = 0 .. n-1) at +128 + j * 64:              |+128
 *  +-------------------------------+-------------------------------+
 *  |     counter id (4)            |   label length in bytes (4)   |  +0
 *  +-------------------------------+-------------------------------+
 *  |                        reserved (8)                           |  +8
 *  +---------------------------------------------------------------+
 *  |              label, UTF-8, zero padded (48 bytes)             | +16
 *  +===============================================================+
 *  |  value j (8, written by the code that counts)                 |+128 + K * 64
 *  |                                                 at + j * 8    |
 *  +---------------------------------------------------------------+
 * </pre>
 *  * The header is written before the magic, which is stored with release semantics: a reader that
 * sees the magic (acquire) sees a complete header. A record's state is {@value #UNUSED} (never
 * allocated), {@value #ALLOCATED} or {@value #FREED}. Allocation writes kind, name, ids, labels
 * and zero values, increments the generation, then stores {@value #ALLOCATED} with release; a
 * reader loads state and generation (acquire), the record, then both again, and drops the record
 * when either changed (freed or reused meanwhile). A freed record is reused only
 * {@link #REUSE_DELAY_MILLIS} after it was freed (Aeron's free-to-reuse timeout), so that a late
 * write through an old handle does not land in a new set. A set's values are packed, eight to a
 * cache line, unlike Aeron's line-or-more per counter: a set's counters are written by one
 * component, mostly under one lock (the cache's miss path writes seven of them per miss), and a
 * reader that loads them all in a loop ({@code stats()}, {@code memreg stat}) then costs that
 * writer two or three line transfers per pass rather than one per counter (issue 13). Counter ids
 * are {@link CounterId}s; labels are stored so that a reader older than the writer can still show
 * new counters.
 *
 * <p>Thread-safe: {@link #allocate} and freeing are serialised on the file; counters are written
 * through their {@link Counter}s. Closing deletes the file but keeps the mapping until no
 * {@link Counter} refers to it, so a late write never faults.
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
    /** How long a freed set record waits before it is given to another set. */
    public static final long REUSE_DELAY_MILLIS = 1_000;

    static final byte[] MAGIC_BYTES = "MEMREGST".getBytes(StandardCharsets.US_ASCII);
    static final long MAGIC = ByteBuffer.wrap(MAGIC_BYTES).order(ByteOrder.nativeOrder()).getLong();
    static final int LAYOUT_VERSION = 3;
    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int SETS_OFFSET = 12;
    static final int PID_OFFSET = 16;
    static final int START_TIME_OFFSET = 24;
    static final int HEARTBEAT_OFFSET = 32;
    static final int SET_LENGTH_OFFSET = 40;
    static final int SLOTS_PER_SET_OFFSET = 44;
    static final int SLOT_LENGTH_OFFSET = 48;
    static final int NAME_LENGTH_OFFSET = 52;
    static final int NAME_OFFSET = 56;
    static final int NAME_MAX_BYTES = 64;
    static final int HEADER_LENGTH = 128;

    static final int UNUSED = 0;
    static final int ALLOCATED = 1;
    static final int FREED = 2;
    static final int SET_STATE_OFFSET = 0;
    static final int SET_KIND_OFFSET = 4;
    static final int SET_GENERATION_OFFSET = 8;
    static final int SET_COUNT_OFFSET = 16;
    static final int SET_NAME_LENGTH_OFFSET = 20;
    static final int SET_NAME_OFFSET = 24;
    static final int SET_FREED_AT_OFFSET = 88;
    static final int SET_HEADER_LENGTH = 128;
    /** Slots per record: room for every counter of the largest kind and some to grow. */
    static final int SLOTS_PER_SET = 48;
    static final int SLOT_LENGTH = 64;
    /** Where a record's values start: after its slots. */
    static final int VALUES_OFFSET = SET_HEADER_LENGTH + SLOTS_PER_SET * SLOT_LENGTH;
    static final int SET_LENGTH = VALUES_OFFSET + SLOTS_PER_SET * Long.BYTES;
    static final int SLOT_ID_OFFSET = 0;
    static final int SLOT_LABEL_LENGTH_OFFSET = 4;
    static final int SLOT_LABEL_OFFSET = 16;
    static final int LABEL_MAX_BYTES = SLOT_LENGTH - SLOT_LABEL_OFFSET;
    /** Longest sanitized name, in characters (ASCII), leaving room for a {@code -N} suffix. */
    static final int NAME_MAX_CHARS = 48;

    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final Path path;
    private final String name;
    private final long pid;
    private final int capacity;
    private final long reuseDelayMillis;
    private final MemorySegment segment;
    private int allocated;
    private boolean closed;

    private CountersFile(Path path, String name, long pid, int capacity, long reuseDelayMillis, MemorySegment segment) {
        this.path = path;
        this.name = name;
        this.pid = pid;
        this.capacity = capacity;
        this.reuseDelayMillis = reuseDelayMillis;
        this.segment = segment;
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

    /**
     * Creates the file {@code <pid>-<name>.stat} in {@code directory} (made when missing) with room
     * for {@code capacity} sets, none allocated; the heartbeat is now.
     *
     * @param reuseDelayMillis how long a freed record waits before reuse ({@link #REUSE_DELAY_MILLIS})
     * @throws IllegalArgumentException when {@code capacity} is not positive
     * @throws IOException when the directory or file cannot be made or mapped
     */
    public static CountersFile create(Path directory, String name, int capacity, long reuseDelayMillis)
            throws IOException {
        if (capacity < 1 || reuseDelayMillis < 0) {
            throw new IllegalArgumentException("capacity " + capacity + " and reuse delay " + reuseDelayMillis
                    + " ms: need at least one set and no negative delay");
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
                return map(path, unique, pid, channel, capacity, reuseDelayMillis);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(path);
                throw e;
            }
        }
    }

    private static CountersFile map(Path path, String name, long pid, FileChannel channel, int capacity,
                                    long reuseDelayMillis) throws IOException {
        long length = HEADER_LENGTH + (long) capacity * SET_LENGTH;
        // An automatic arena: the mapping lives while a Counter refers to it, even after close().
        MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, length, Arena.ofAuto());
        long now = System.currentTimeMillis();
        segment.set(ValueLayout.JAVA_INT, VERSION_OFFSET, LAYOUT_VERSION);
        segment.set(ValueLayout.JAVA_INT, SETS_OFFSET, capacity);
        segment.set(ValueLayout.JAVA_LONG, PID_OFFSET, pid);
        segment.set(ValueLayout.JAVA_LONG, START_TIME_OFFSET, now);
        segment.set(ValueLayout.JAVA_LONG, HEARTBEAT_OFFSET, now);
        segment.set(ValueLayout.JAVA_INT, SET_LENGTH_OFFSET, SET_LENGTH);
        segment.set(ValueLayout.JAVA_INT, SLOTS_PER_SET_OFFSET, SLOTS_PER_SET);
        segment.set(ValueLayout.JAVA_INT, SLOT_LENGTH_OFFSET, SLOT_LENGTH);
        putString(segment, NAME_LENGTH_OFFSET, NAME_OFFSET, NAME_MAX_BYTES, name);
        LONG.setRelease(segment, (long) MAGIC_OFFSET, MAGIC);
        return new CountersFile(path, name, pid, capacity, reuseDelayMillis, segment);
    }

    /**
     * Allocates a record for a set of {@code kind}'s counters named {@code name}, all zero: the
     * lowest record never used or freed at least the reuse delay ago.
     *
     * @return the set, or {@code null} when every record is taken (or the file is closed)
     */
    public synchronized CounterSet allocate(SetKind kind, String name) {
        Set<CounterId> ids = kind.counters();
        int index = closed ? -1 : freeRecord(System.currentTimeMillis());
        if (index < 0) {
            return null;
        }
        long record = HEADER_LENGTH + (long) index * SET_LENGTH;
        String sanitized = sanitize(name);
        segment.set(ValueLayout.JAVA_INT, record + SET_KIND_OFFSET, kind.code());
        segment.set(ValueLayout.JAVA_INT, record + SET_COUNT_OFFSET, ids.size());
        putString(segment, record + SET_NAME_LENGTH_OFFSET, record + SET_NAME_OFFSET, NAME_MAX_BYTES, sanitized);
        Counter[] counters = new Counter[CounterId.count()];
        long slot = record + SET_HEADER_LENGTH;
        long value = record + VALUES_OFFSET;
        for (CounterId id : ids) {
            segment.set(ValueLayout.JAVA_INT, slot + SLOT_ID_OFFSET, id.id());
            putString(segment, slot + SLOT_LABEL_LENGTH_OFFSET, slot + SLOT_LABEL_OFFSET, LABEL_MAX_BYTES, id.label());
            LONG.setRelease(segment, value, 0L);
            counters[id.ordinal()] = new Counter(segment, value);
            slot += SLOT_LENGTH;
            value += Long.BYTES;
        }
        long generation = segment.get(ValueLayout.JAVA_LONG, record + SET_GENERATION_OFFSET);
        LONG.setRelease(segment, record + SET_GENERATION_OFFSET, generation + 1);
        INT.setRelease(segment, record + SET_STATE_OFFSET, ALLOCATED);
        allocated++;
        return new CounterSet(kind, sanitized, counters, () -> free(record));
    }

    private int freeRecord(long now) {
        for (int i = 0; i < capacity; i++) {
            long record = HEADER_LENGTH + (long) i * SET_LENGTH;
            int state = segment.get(ValueLayout.JAVA_INT, record + SET_STATE_OFFSET);
            if (state == UNUSED || (state == FREED
                    && now - segment.get(ValueLayout.JAVA_LONG, record + SET_FREED_AT_OFFSET) >= reuseDelayMillis)) {
                return i;
            }
        }
        return -1;
    }

    private synchronized void free(long record) {
        segment.set(ValueLayout.JAVA_LONG, record + SET_FREED_AT_OFFSET, System.currentTimeMillis());
        INT.setRelease(segment, record + SET_STATE_OFFSET, FREED);
        allocated--;
    }

    /** How many sets are allocated now. */
    public synchronized int allocated() {
        return allocated;
    }

    /** How many sets the file has room for. */
    public int capacity() {
        return capacity;
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

    /** The file's name as written in it (sanitized, with a {@code -N} suffix when needed). */
    public String name() {
        return name;
    }

    /** This process's id, as written in the file. */
    public long pid() {
        return pid;
    }

    /** Sets the heartbeat to now: readers show how long ago the writer was last heard from. */
    public void heartbeat() {
        LONG.setRelease(segment, (long) HEARTBEAT_OFFSET, System.currentTimeMillis());
    }

    /**
     * Deletes the file; idempotent. Sets still allocated keep counting into the mapping (no reader
     * can see them any more); {@link #allocate} returns null from now on.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        Files.deleteIfExists(path);
    }

    @Override
    public String toString() {
        return "CountersFile[" + path + "]";
    }
}
