package org.memreg.transport;

/**
 * What a node's listener did with the connections it was offered ({@link Node#handshakeStats()}).
 *
 * @param completed handshakes that ended with the node's address sent to an accepted client
 * @param refused handshakes refused for what the client sent (not memreg, another version or
 *     error mode, no or a wrong secret), or that the client refused
 * @param shed connections closed at once because of the listener's limits (handshakes in
 *     progress, connections per second from one source)
 * @param timedOut handshakes not finished within the handshake timeout
 * @param abandoned handshakes the client broke off (closed, reset)
 */
public record HandshakeStats(long completed, long refused, long shed, long timedOut, long abandoned) {
}
