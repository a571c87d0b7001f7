package org.memreg.odp;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.util.Warnings;

/**
 * The ODP messages one side dropped because they did not carry the token of the peer they came
 * in the name of ({@link OdpWire}; a peer cut off has none any more): counted, and reported at
 * most once a second ({@link Warnings}), so that a node sending them cannot flood the log.
 */
final class ForgedMessages {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final AtomicLong dropped = new AtomicLong();
    private final Warnings warnings;

    ForgedMessages(String side) {
        this.warnings = new Warnings(ForgedMessages.class, side + " dropped ODP messages that no peer it serves sent"
                + " (a wrong token: forged, or from a peer cut off)");
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
        dropped.incrementAndGet();
        warnings.warn(what);
    }

    /** The messages dropped so far. */
    long dropped() {
        return dropped.get();
    }
}
