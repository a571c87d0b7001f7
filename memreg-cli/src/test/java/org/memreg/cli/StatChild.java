package org.memreg.cli;

import java.io.IOException;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSet;
import org.memreg.stat.ProcessCounters;
import org.memreg.stat.SetKind;

/**
 * A second process for {@link StatCommandTest}: opens three counter sets in its process's counters
 * file in {@code args[0]}, a cache named {@code args[1]}, an ODP region {@code odp-owner-1} and an
 * ODP mapping {@code odp-peer-1}, writes distinct values into each, prints {@code pid=},
 * {@code path=} and one {@code counter.<kind>.<id>=<value>} line per counter, then {@code ready},
 * and closes the sets (the last deletes the file) when its stdin closes; with {@code args[2]}
 * {@code exit} it exits instead, its sets still open.
 */
public final class StatChild {
    private StatChild() {
    }

    public static void main(String[] args) throws IOException {
        CacheStatChild.publishInto(args[0]);
        try (CounterSet cache = ProcessCounters.open(SetKind.CACHE, args[1], true);
                CounterSet region = ProcessCounters.open(SetKind.ODP_REGION, "odp-owner-1", true);
                CounterSet mapping = ProcessCounters.open(SetKind.ODP_MAPPING, "odp-peer-1", true)) {
            System.out.println("pid=" + ProcessHandle.current().pid());
            System.out.println("path=" + ProcessCounters.file().path());
            for (CounterSet set : new CounterSet[] {cache, region, mapping}) {
                for (CounterId counter : set.kind().counters()) {
                    long value = value(set.kind(), counter);
                    set.counter(counter).setOrdered(value);
                    System.out.println("counter." + set.kind().label() + "." + counter.id() + "=" + value);
                }
            }
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) {
                // Wait for the parent to close our stdin.
            }
            if (args.length > 2 && args[2].equals("exit")) {
                System.exit(0);
            }
        }
        System.out.println("closed");
    }

    /** Distinct per set and counter, some large, one negative, one zero. */
    static long value(SetKind kind, CounterId counter) {
        return switch (counter) {
            case TRIMMED -> 0;
            case REPLACED -> -5;
            case REGISTERED_BYTES -> Long.MAX_VALUE;
            default -> counter.id() * 1_234_567_891L + kind.code();
        };
    }
}
