package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.memreg.stat.CounterId;
import org.memreg.stat.CountersFile;

/**
 * A second process for {@link StatCommandTest}: publishes counters into a counters file in
 * {@code args[0]} named {@code args[1]}, prints {@code pid=}, {@code path=} and one
 * {@code counter.<id>=<value>} line per counter, then {@code ready}, and closes the file (which
 * deletes it) when its stdin closes. To test a real cache, make {@link #values()} return its
 * statistics by ordinal; the test compares whatever is printed here with what {@code memreg stat}
 * shows.
 */
public final class StatChild {
    private StatChild() {
    }

    public static void main(String[] args) throws IOException {
        try (CountersFile file = CountersFile.create(Path.of(args[0]), args[1])) {
            long[] values = values();
            file.publish(values);
            file.heartbeat();
            System.out.println("pid=" + file.pid());
            System.out.println("path=" + file.path());
            for (CounterId counter : CounterId.values()) {
                if (file.has(counter)) {
                    System.out.println("counter." + counter.id() + "=" + values[counter.ordinal()]);
                }
            }
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) {
                // Wait for the parent to close our stdin.
            }
        }
        System.out.println("closed");
    }

    /** Values by {@link CounterId#ordinal()}: distinct, some large, one negative, one zero. */
    static long[] values() {
        long[] values = new long[CounterId.count()];
        for (CounterId counter : CounterId.values()) {
            values[counter.ordinal()] = counter.id() * 1_234_567_891L;
        }
        values[CounterId.TRIMMED.ordinal()] = 0;
        values[CounterId.REPLACED.ordinal()] = -5;
        values[CounterId.REGISTERED_BYTES.ordinal()] = Long.MAX_VALUE;
        return values;
    }
}
