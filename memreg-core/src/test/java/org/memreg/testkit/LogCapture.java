package org.memreg.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What a class logs (through {@code java.util.logging}, the JDK's system logger) while this is open. */
public final class LogCapture implements AutoCloseable {
    private final Logger logger;
    private final List<String> logged = new ArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (logged) {
                logged.add(record.getMessage());
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private LogCapture(Logger logger) {
        this.logger = logger;
        logger.addHandler(capture);
    }

    /** Captures what {@code type}'s logger logs from now until {@link #close}. */
    public static LogCapture of(Class<?> type) {
        return new LogCapture(Logger.getLogger(type.getName()));
    }

    /** Every message logged so far, one a line. */
    public String text() {
        synchronized (logged) {
            return logged.stream().map(m -> m + "\n").reduce("", String::concat);
        }
    }

    /** How many messages were logged so far. */
    public int count() {
        synchronized (logged) {
            return logged.size();
        }
    }

    @Override
    public void close() {
        logger.removeHandler(capture);
    }

    @Override
    public String toString() {
        return text();
    }
}
