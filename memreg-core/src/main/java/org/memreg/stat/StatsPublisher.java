package org.memreg.stat;

import java.io.IOException;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.config.Settings;

/**
 * Keeps a {@link CountersFile} current: a daemon thread asks a {@link CounterSource} to write its
 * values every {@value #INTERVAL_PROP_NAME} milliseconds (default {@value #INTERVAL_DEFAULT}),
 * then updates the heartbeat. The publisher owns the file: closing it stops the thread, publishes
 * one last time and deletes the file.
 *
 * <p>Never throws into its caller once started: a source that throws, or a file that fails, is
 * logged once (at WARNING, through {@link System.Logger}) and counted in {@link #failures()};
 * publishing goes on at the next tick. {@link #start(String, Set, CounterSource)} does not throw when
 * the file cannot be made either: it logs and returns a publisher that does nothing, because a
 * cache must work without its statistics.
 *
 * <p>Thread-safe; {@link #publishNow()} and the thread never call the source at the same time.
 */
public final class StatsPublisher implements AutoCloseable {
    /** Milliseconds between publications. */
    public static final String INTERVAL_PROP_NAME = "memreg.stat.intervalMillis";
    /** Default of {@link #INTERVAL_PROP_NAME}. */
    public static final long INTERVAL_DEFAULT = 100;

    private static final System.Logger LOG = System.getLogger(StatsPublisher.class.getName());

    private final CountersFile file;
    private final CounterSource source;
    private final long intervalNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long failures;
    private boolean closed;

    private StatsPublisher(CountersFile file, CounterSource source, long intervalMillis) {
        this.file = file;
        this.source = source;
        this.intervalNanos = intervalMillis * 1_000_000;
        if (file == null) {
            this.thread = null;
            this.running = false;
        } else {
            this.thread = Thread.ofPlatform().daemon().name("memreg-stat-" + file.name()).unstarted(this::run);
        }
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
     * {@link #start(String, Set, CounterSource)} with a file holding every {@link CounterId}.
     *
     * @throws IllegalArgumentException when {@value #INTERVAL_PROP_NAME} is not a positive number
     */
    public static StatsPublisher start(String name, CounterSource source) {
        return start(name, EnumSet.allOf(CounterId.class), source);
    }

    /**
     * Creates {@code name}'s file in {@link CountersFile#directory()}, holding {@code counters}
     * (e.g. {@link CounterId#cacheCounters()}), and publishes {@code source} into it every
     * {@link #intervalMillis()}. When the file cannot be made, logs a warning and returns an
     * inactive publisher ({@link #isActive()} false) whose methods do nothing.
     *
     * @throws IllegalArgumentException when {@value #INTERVAL_PROP_NAME} is not a positive number,
     *         or {@code counters} is empty
     */
    public static StatsPublisher start(String name, Set<CounterId> counters, CounterSource source) {
        Objects.requireNonNull(source, "source");
        if (counters.isEmpty()) {
            throw new IllegalArgumentException("a counters file needs at least one counter");
        }
        long interval = intervalMillis();
        CountersFile file;
        try {
            file = CountersFile.create(CountersFile.directory(), name, counters);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "memreg stat: no counters file for '" + name
                    + "', its statistics will not be visible to memreg stat: " + e);
            return new StatsPublisher(null, source, interval);
        }
        return start(file, source, interval);
    }

    /**
     * Publishes {@code source} into {@code file} every {@code intervalMillis}, starting now; the
     * publisher takes ownership of the file.
     *
     * @throws IllegalArgumentException when {@code intervalMillis} is not positive
     */
    public static StatsPublisher start(CountersFile file, CounterSource source, long intervalMillis) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(source, "source");
        if (intervalMillis <= 0) {
            throw new IllegalArgumentException("interval must be positive: " + intervalMillis + " ms");
        }
        StatsPublisher publisher = new StatsPublisher(file, source, intervalMillis);
        publisher.publishNow();
        publisher.thread.start();
        return publisher;
    }

    /** Whether there is a file being published (false after a failed {@link #start(String, Set, CounterSource)}). */
    public boolean isActive() {
        return file != null;
    }

    /** The file published into, or {@code null} when inactive. */
    public CountersFile file() {
        return file;
    }

    /** How many publications failed (the first one was logged). */
    public long failures() {
        return failures;
    }

    /** Publishes now, from the calling thread; never throws. Does nothing once closed or when inactive. */
    public void publishNow() {
        if (file == null) {
            return;
        }
        lock.lock();
        try {
            if (!closed) {
                publishLocked();
            }
        } finally {
            lock.unlock();
        }
    }

    private void publishLocked() {
        try {
            source.writeTo(file);
            file.heartbeat();
        } catch (RuntimeException | LinkageError | AssertionError e) {
            if (failures++ == 0) {
                LOG.log(System.Logger.Level.WARNING, "memreg stat: publishing " + file.path()
                        + " failed; later failures are only counted", e);
            }
        }
    }

    private void run() {
        while (running) {
            LockSupport.parkNanos(this, intervalNanos);
            if (running) {
                publishNow();
            }
        }
    }

    /** Stops the thread, publishes a last time and deletes the file; idempotent, never throws. */
    @Override
    public void close() {
        if (file == null) {
            return;
        }
        running = false;
        LockSupport.unpark(thread);
        if (Thread.currentThread() != thread) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        lock.lock();
        try {
            if (closed) {
                return;
            }
            publishLocked();
            closed = true;
            file.close();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "memreg stat: could not delete " + file.path() + ": " + e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "StatsPublisher[" + (file == null ? "inactive" : file.path()) + "]";
    }
}
