package org.memreg.transport;

import java.lang.foreign.Arena;
import java.net.InetSocketAddress;
import java.util.function.UnaryOperator;
import org.memreg.ucx.UcxTestSupport;

/**
 * What most transport tests start from: a node listening on loopback, a second node connected to
 * it, and an arena for buffers. Closing closes all three.
 */
record LoopbackPair(Node server, Node client, Endpoint endpoint, Arena arena) implements AutoCloseable {
    /** Both nodes from {@link GoodPeer#loopback} with {@code settings}; the server listens on 127.0.0.1. */
    static LoopbackPair connect(UnaryOperator<NodeBuilder> settings) {
        UcxTestSupport.assumeUcx();
        Node server = settings.apply(GoodPeer.loopback("server")).listen(new InetSocketAddress("127.0.0.1", 0)).build();
        Node client = null;
        try {
            client = settings.apply(GoodPeer.loopback("client")).build();
            return new LoopbackPair(server, client, client.connect("127.0.0.1", server.port()), Arena.ofShared());
        } catch (RuntimeException | Error e) {
            if (client != null) {
                client.close();
            }
            server.close();
            throw e;
        }
    }

    @Override
    public void close() {
        client.close();
        server.close();
        arena.close();
    }
}
