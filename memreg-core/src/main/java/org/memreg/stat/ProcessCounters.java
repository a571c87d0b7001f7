package org.memreg.stat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.config.Settings;

/**
 * The process's counters: one {@link CountersFile} in {@link CountersFile#directory()}, made when
 * the first published {@link CounterSet} opens and deleted when the last one closes (or when the
 * JVM exits with sets still open: only a process that dies leaves its file), and one daemon
 * publisher thread that every {@value #INTERVAL_PROP_NAME} ms (default {@value #INTERVAL_DEFAULT})
 * runs each open set's refresher (see {@link CounterSet#refreshWith}) and beats the file's heartbeat.
 * Counted values need no publishing: their slots are the storage.
 *
 * <p>Never throws into a component for want of a file: when the file cannot be made (directory
 * not writable, say) or is full ({@value #SETS_PROP_NAME} sets), the set lives in ordinary memory,
 * works the same and is invisible to {@code memreg stat}; this is logged once (WARNING, through
 * {@link System.Logger}).
 *
 * <p>Thread-safe. Opening and closing sets and publishing are serialised on one lock that no
 * component's hot or miss path takes.
 */
public final class ProcessCounters {
    /** Milliseconds between two runs of the publisher. */
    public static final String INTERVAL_PROP_NAME = "memreg.stat.intervalMillis";
    /** Default of {@link #INTERVAL_PROP_NAME}. */
    public static final long INTERVAL_DEFAULT = 100;
    /** How many sets the process's file has room for; further sets live in ordinary memory. */
    public static final String SETS_PROP_NAME = "memreg.stat.sets";
    /** Default of {@link #SETS_PROP_NAME}. */
    public static final int SETS_DEFAULT = 256;
    /** Most sets a file may be given room for (each takes {@value CountersFile#SET_LENGTH} bytes). */
    public static final int MAX_SETS = 65_536;
    /** The name in the file's name: {@code <pid>-memreg.stat}. */
    static final String FILE_NAME = "memreg";

    private static final System.Logger LOG = System.getLogger(ProcessCounters.class.getName());
    private static final ReentrantLock LOCK = new ReentrantLock();
    private static final List<CounterSet> OPEN = new ArrayList<>();
    private static CountersFile file;
    /** The file's path while it exists, for the shutdown hook (which must not wait for the lock). */
    private static volatile Path exists;
    private static boolean hooked;
    private static Thread publisher;
    private static boolean warned;
    private static long failures;

    private ProcessCounters() {
    }

    /** {@link #INTERVAL_PROP_NAME}, else {@value #INTERVAL_DEFAULT}; must be positive. */
    public static long intervalMillis() {
        long interval = Settings.longValue(INTERVAL_PROP_NAME, INTERVAL_DEFAULT);
        if (interval <= 0) {
            throw new IllegalArgumentException(INTERVAL_PROP_NAME + "=" + interval + " must be positive");
        }
        return interval;
    }

    /**
     * Opens a set of {@code kind}'s counters, all zero: in the process's file when {@code publish}
     * and the file can be had, else in ordinary memory. Close it when the component closes.
     *
     * @throws IllegalArgumentException when {@value #INTERVAL_PROP_NAME} or {@value #SETS_PROP_NAME}
     *     is not a positive number
     */
    public static CounterSet open(SetKind kind, String name, boolean publish) {
        long interval = intervalMillis();
        long sets = Settings.longValue(SETS_PROP_NAME, SETS_DEFAULT);
        if (sets <= 0 || sets > MAX_SETS) {
            throw new IllegalArgumentException(SETS_PROP_NAME + "=" + sets + " must be from 1 to " + MAX_SETS);
        }
        LOCK.lock();
        try {
            CounterSet inFile = publish ? allocateInFile(kind, name, (int) sets) : null;
            CounterSet set = inFile != null ? inFile : CounterSet.inMemory(kind, CountersFile.sanitize(name));
            CounterSet opened = set.releasedAlsoBy(ProcessCounters::closed);
            OPEN.add(opened);
            if (publisher == null) {
                publisher = Thread.ofPlatform().daemon().name("memreg-stat").unstarted(() -> run(interval * 1_000_000));
                publisher.start();
            }
            return opened;
        } finally {
            LOCK.unlock();
        }
    }

    private static CounterSet allocateInFile(SetKind kind, String name, int sets) {
        if (file == null) {
            try {
                file = CountersFile.create(CountersFile.directory(), FILE_NAME, sets, CountersFile.REUSE_DELAY_MILLIS);
                exists = file.path();
                deleteAtExit();
            } catch (IOException | RuntimeException e) {
                warnOnce("no counters file, " + kind.label() + " '" + name + "' and others count in memory only: " + e);
                return null;
            }
        }
        CounterSet set = file.allocate(kind, name);
        if (set == null) {
            warnOnce(file.path() + " is full (" + file.capacity() + " sets, " + SETS_PROP_NAME + "): "
                    + kind.label() + " '" + name + "' counts in memory only");
        }
        return set;
    }

    private static void closed(CounterSet set) {
        LOCK.lock();
        try {
            OPEN.remove(set);
            if (OPEN.isEmpty()) {
                publisher = null; // the thread sees it is no longer the publisher and ends
                if (file != null) {
                    try {
                        file.close();
                    } catch (IOException e) {
                        LOG.log(System.Logger.Level.WARNING, "memreg stat: could not delete " + file.path() + ": " + e);
                    }
                    file = null;
                    exists = null;
                }
            }
        } finally {
            LOCK.unlock();
        }
    }

    /** Once: a JVM that exits normally with sets still open deletes the file, so that it is not listed as dead. */
    private static void deleteAtExit() {
        if (hooked) {
            return;
        }
        hooked = true;
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            Path path = exists;
            if (path != null) {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException | RuntimeException e) {
                    // Exiting: memreg stat lists it as dead, --clean removes it.
                }
            }
        }));
    }

    /** The process's counters file while it has one open (for tests and tools), else null. */
    public static CountersFile file() {
        LOCK.lock();
        try {
            return file;
        } finally {
            LOCK.unlock();
        }
    }

    /** Runs every open set's refresher and beats the heartbeat now, from the calling thread; never throws. */
    public static void publishNow() {
        LOCK.lock();
        try {
            for (CounterSet set : OPEN) {
                try {
                    set.refresh();
                } catch (RuntimeException | LinkageError | AssertionError e) {
                    if (failures++ == 0) {
                        LOG.log(System.Logger.Level.WARNING, "memreg stat: refreshing " + set
                                + " failed; later failures are only counted", e);
                    }
                }
            }
            if (file != null) {
                file.heartbeat();
            }
        } finally {
            LOCK.unlock();
        }
    }

    /** How many refreshes failed (the first one was logged). */
    public static long failures() {
        LOCK.lock();
        try {
            return failures;
        } finally {
            LOCK.unlock();
        }
    }

    private static void run(long intervalNanos) {
        while (isPublisher()) {
            publishNow();
            LockSupport.parkNanos(intervalNanos);
        }
    }

    private static boolean isPublisher() {
        LOCK.lock();
        try {
            return publisher == Thread.currentThread();
        } finally {
            LOCK.unlock();
        }
    }

    private static void warnOnce(String message) {
        if (!warned) {
            warned = true;
            LOG.log(System.Logger.Level.WARNING, "memreg stat: " + message);
        }
    }
}
