package org.memreg.util;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Warnings about what peers sent, at most one log line a second with the count since the last
 * one: a peer that sends garbage on purpose must not fill the log. Not thread-safe; each user
 * calls it from one thread or under its lock.
 */
public final class Warnings {
    private final System.Logger log;
    private final String what;
    private long lastLog;
    private long unlogged;

    /** Lines go to {@code source}'s logger; {@code what} starts every one, e.g. "memreg listener on port 4711". */
    public Warnings(Class<?> source, String what) {
        this.log = System.getLogger(source.getName());
        this.what = what;
    }

    /** Counts one more; logs it with the count when the last line is a second old. */
    public void warn(String latest) {
        warn(() -> latest);
    }

    /**
     * {@link #warn(String)} with the description made only when a line is written: under a flood
     * of bad messages, the others cost a count and a clock read.
     */
    public void warn(Supplier<String> latest) {
        unlogged++;
        long now = System.nanoTime();
        if (lastLog == 0 || now - lastLog > TimeUnit.SECONDS.toNanos(1)) {
            log.log(System.Logger.Level.WARNING, what + ": " + unlogged + " since the last report; the latest: "
                    + latest.get());
            lastLog = now;
            unlogged = 0;
        }
    }
}
