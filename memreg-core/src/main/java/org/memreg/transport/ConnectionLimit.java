package org.memreg.transport;

/**
 * How many connections a node holds, against its limit ({@link NodeBuilder#maxPeers}). Without
 * it, every UCX hello under a new node id made an endpoint (and every connect one more), with
 * nothing to stop a peer that sends them in a loop. {@link Connections} counts under the node's
 * lock; the listener reads the count from its own thread, to refuse a client as busy before it
 * gets the address.
 */
final class ConnectionLimit {
    private final int max;
    private volatile int held;

    ConnectionLimit(int max) {
        this.max = max;
    }

    /** Sets the count (under the node's lock). */
    void held(int connections) {
        this.held = connections;
    }

    boolean reached() {
        return held >= max;
    }

    /** Why a connection is refused: for the exception, the listener's refusal and the log. */
    String reason() {
        return "the node holds its limit of " + max + " connections (" + NodeBuilder.MAX_PEERS_PROP_NAME + ")";
    }
}
