package org.memreg.transport;

import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What nodes log (through {@code java.util.logging}, the JDK's system logger) while it is open. */
final class NodeLog implements AutoCloseable {
    private final Logger logger = Logger.getLogger(Node.class.getName());
    private final StringBuilder logged = new StringBuilder();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (logged) {
                logged.append(record.getMessage()).append('\n');
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    NodeLog() {
        logger.addHandler(capture);
    }

    /** Every message logged so far, one a line. */
    String text() {
        synchronized (logged) {
            return logged.toString();
        }
    }

    @Override
    public void close() {
        logger.removeHandler(capture);
    }
}
