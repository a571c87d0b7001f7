package org.memreg.transport;

import org.memreg.cache.RegistrationCache;

/**
 * How a node moves its larger transfers: messages up to {@code eagerBytes} are copied; above it
 * they go zero-copy in chunks of at most {@code chunkBytes}, registered through {@code cache}
 * (whose device is the node's UCX device), at most {@code depth} in flight per message.
 */
record Chunking(RegistrationCache cache, long eagerBytes, long chunkBytes, int depth) {
}
