package org.memreg.odp;

import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The ODP messages one side dropped because they did not carry the token of the peer they came
 * in the name of ({@link OdpWire}; a peer cut off has none any more): counted, and reported at
 * most once a second, so that a node sending them cannot flood the log.
 */
final class ForgedMessages {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long REPORT_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final String side;
    private final AtomicLong dropped = new AtomicLong();
    private long reportedAt = System.nanoTime() - REPORT_NANOS;
    private long reported;

    ForgedMessages(String side) {
        this.side = side;
    }

    /** A random token, never 0 (the token of nothing). */
    static long newToken() {
        long token;
        do {
            token = RANDOM.nextLong();
        } while (token == 0);
        return token;
    }

    /** Drops the message {@code what} describes. */
    synchronized void drop(String what) {
        long count = dropped.incrementAndGet();
        long now = System.nanoTime();
        if (now - reportedAt >= REPORT_NANOS) {
            System.getLogger(ForgedMessages.class.getName()).log(System.Logger.Level.WARNING, String.format(
                    "%s dropped %d ODP message(s) that no peer it serves sent (a wrong token: forged, or from a peer"
                    + " cut off) since the last report; the latest: %s",
                    side, count - reported, what));
            reportedAt = now;
            reported = count;
        }
    }

    /** The messages dropped so far. */
    long dropped() {
        return dropped.get();
    }
}
