package org.memreg.cli.workload;

/**
 * The sender's own count of stale transfers: it knows when it freed and reallocated a buffer, so
 * a transfer through a registration it first got before that moment went through a registration
 * of memory that is gone. Needs no physical frames (which only root sees), so it works for every
 * user and device. Relies on a new registration having a new key (devices draw keys at random),
 * and on each buffer having one registration at a time (the buffers do not overlap).
 */
final class SenderStaleness {
    private final long[] generation;
    private final long[] key;
    private final long[] keyGeneration;
    private final boolean[] seen;
    private long stale;

    SenderStaleness(int buffers) {
        generation = new long[buffers];
        key = new long[buffers];
        keyGeneration = new long[buffers];
        seen = new boolean[buffers];
    }

    /** Buffer {@code buffer} was freed and new memory allocated in its place. */
    void reallocated(int buffer) {
        generation[buffer]++;
    }

    /** A transfer from {@code buffer} through the registration with {@code localKey}. */
    void sentWith(int buffer, long localKey) {
        if (seen[buffer] && key[buffer] == localKey) {
            if (keyGeneration[buffer] != generation[buffer]) {
                stale++;
            }
            return;
        }
        seen[buffer] = true;
        key[buffer] = localKey;
        keyGeneration[buffer] = generation[buffer];
    }

    /** Transfers so far through a registration older than its buffer's memory. */
    long staleTransfers() {
        return stale;
    }
}
