package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.memreg.device.Access;

/**
 * The check every misuse test ends with: a well-behaved peer can still connect to the node, send
 * it a message, attach a fresh window of it and put and get through it.
 */
final class GoodPeer {
    private GoodPeer() {
    }

    /** A builder for a loopback node, as every transport test makes them. */
    static NodeBuilder loopback(String name) {
        return Node.builder().name(name).ucx("NET_DEVICES", "lo");
    }

    /** The next endpoint a peer opened to {@code node}'s listener, once there is one (the node progresses itself). */
    static Endpoint accepted(Node node) {
        Endpoint endpoint;
        while ((endpoint = node.accepted()) == null) {
            Thread.onSpinWait();
        }
        return endpoint;
    }

    /** Asserts that a new peer made by {@code settings} from {@link #loopback} is served by {@code server}. */
    static void assertServed(Node server, UnaryOperator<NodeBuilder> settings) throws Exception {
        try (Node peer = settings.apply(loopback("good-peer")).build(); Arena arena = Arena.ofConfined()) {
            Endpoint endpoint = peer.connect("127.0.0.1", server.port());
            MemorySegment message = arena.allocate(8, 8);
            message.set(JAVA_LONG, 0, 0x600d);
            MemorySegment received = arena.allocate(8, 8);
            long tag = 0x600d00L + (endpoint.hashCode() & 0xffff);
            CompletableFuture<Long> got = server.receive(tag, received);
            endpoint.send(tag, message).get(20, TimeUnit.SECONDS);
            assertEquals(8, got.get(20, TimeUnit.SECONDS), "the node still receives");
            assertEquals(0x600d, received.get(JAVA_LONG, 0));
            try (Window window = server.allocateWindow(4096, Access.ALL)) {
                RemoteWindow remote = endpoint.attach(window.key());
                remote.put(8, message).get(20, TimeUnit.SECONDS);
                remote.flush().get(20, TimeUnit.SECONDS);
                assertEquals(0x600d, window.segment().get(JAVA_LONG, 8), "the node's windows still take puts");
                MemorySegment back = arena.allocate(8, 8);
                remote.get(8, back).get(20, TimeUnit.SECONDS);
                assertEquals(0x600d, back.get(JAVA_LONG, 0), "and gets");
            }
        }
    }

    /** {@link #assertServed(Node, UnaryOperator)} with a peer of default settings. */
    static void assertServed(Node server) throws Exception {
        assertServed(server, b -> b);
    }
}
