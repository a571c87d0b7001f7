package org.memreg.transport;

/**
 * UCX's error handling for a node's endpoints.
 *
 * <p>{@link #NONE} lets UCX use shared memory and cross-memory attach between processes on one
 * host (the fast path), but a peer that dies is noticed only through memreg's timeouts.
 * {@link #PEER} makes UCX report a failed peer (operations complete with an error, the endpoint
 * is marked failed) at the price of dropping the shared-memory transports: traffic goes over TCP.
 */
public enum ErrorMode {
    /** UCP_ERR_HANDLING_MODE_NONE: fastest; failures seen by timeouts. */
    NONE,
    /** UCP_ERR_HANDLING_MODE_PEER: failures reported by UCX; TCP only. */
    PEER
}
