package org.memreg.transport;

import java.util.concurrent.TimeUnit;

/**
 * Warnings about what peers sent, at most one log line a second with the count since the last
 * one: a peer that sends garbage on purpose must not fill the log. Not thread-safe; each user
 * calls it from one thread or under its lock.
 */
final class Warnings {
    private static final System.Logger LOG = System.getLogger(Node.class.getName());
    private final String what;
    private long lastLog;
    private long unlogged;

    /** {@code what} starts every line, e.g. "memreg listener on port 4711". */
    Warnings(String what) {
        this.what = what;
    }

    void warn(String latest) {
        unlogged++;
        long now = System.nanoTime();
        if (lastLog == 0 || now - lastLog > TimeUnit.SECONDS.toNanos(1)) {
            LOG.log(System.Logger.Level.WARNING, what + ": " + unlogged + " since the last report; the latest: " + latest);
            lastLog = now;
            unlogged = 0;
        }
    }
}
