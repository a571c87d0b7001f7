package org.memreg.transport;

import java.util.concurrent.TimeUnit;

/**
 * A node's completions that wait for the hold of a caller's arena to end ({@link
 * org.memreg.util.ArenaHold}): a lent future completes on the holder's thread once its call has
 * returned. The node's close waits for them, so that a caller may close its arenas as soon as the
 * node has closed.
 */
final class HeldCompletions {
    private int pending;

    synchronized void started() {
        pending++;
    }

    /** The hold has ended: its arena may close (the future completes right after). */
    synchronized void ended() {
        if (--pending == 0) {
            notifyAll();
        }
    }

    /** Waits until no hold of the node's operations is left, at most {@code nanos}; true if none is. */
    synchronized boolean awaitNone(long nanos) {
        long deadline = System.nanoTime() + nanos;
        boolean interrupted = false;
        try {
            while (pending > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    interrupted = true; // a close finishes; the flag stays for the caller
                }
            }
            return true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
