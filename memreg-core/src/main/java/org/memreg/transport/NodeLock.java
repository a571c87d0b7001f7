package org.memreg.transport;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A node's lock, which does not let two nodes' locks deadlock. A completion stage runs inside its
 * node's progress, under that node's lock; one that uses another node (a relay: a message received
 * on one node forwarded through another) takes that node's lock too. With stages going both ways
 * the two threads each held one lock and waited for the other's forever: a two-way relay between
 * two nodes of one JVM hung within its first rounds (the JVM's own deadlock report named them).
 *
 * <p>So a thread that holds another live node's lock and finds this one taken waits for it at
 * most the node's timeout, then throws {@link IllegalStateException}: the stage fails, its thread
 * lets go of its own node, and the other goes on. An uncontended lock costs nothing more: the
 * look at other nodes happens only when the lock is taken.
 */
final class NodeLock extends ReentrantLock {
    /** Every open node's lock in this JVM. */
    private static final Set<NodeLock> OPEN = ConcurrentHashMap.newKeySet();
    private final long timeoutNanos;
    private final String node;

    NodeLock(long timeoutNanos, String node) {
        this.timeoutNanos = timeoutNanos;
        this.node = node;
        OPEN.add(this);
    }

    /** The node closed: no thread can hold it inside another's progress any more. */
    void closed() {
        OPEN.remove(this);
    }

    @Override
    public void lock() {
        if (tryLock()) {
            return;
        }
        NodeLock held = heldElsewhere();
        if (held == null) {
            super.lock();
            return;
        }
        try {
            if (tryLock(timeoutNanos, TimeUnit.NANOSECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the caller sees the flag; the wait ends here either way
        }
        throw new IllegalStateException("node " + node + " stayed busy for "
                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms while this thread held node " + held.node + " (a completion stage of that node using this"
                + " one?): two nodes' stages that use each other wait for each other; use an async stage"
                + " (thenComposeAsync) to go from one node to another");
    }

    /** Another open node's lock this thread holds, or null. */
    private NodeLock heldElsewhere() {
        for (NodeLock other : OPEN) {
            if (other != this && other.isHeldByCurrentThread()) {
                return other;
            }
        }
        return null;
    }
}
