package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;

/** Owner and peers as transport nodes in one JVM, on loopback: what the in-process ODP tests share. */
final class OdpLoopback {
    private OdpLoopback() {
    }

    /** A node with error mode PEER (leases need failures reported), listening on loopback when asked. */
    static Node node(String name, boolean listen) {
        var b = Node.builder().name(name).ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER);
        if (listen) {
            b.listen(new InetSocketAddress("127.0.0.1", 0));
        }
        return b.build();
    }

    /** Serves {@code peerNode} from {@code region} and attaches its mapping; returns the mapping. */
    static OdpMapping attach(Node ownerNode, OdpRegion region, int number, Node peerNode) throws Exception {
        region.serve(ownerNode.connect("127.0.0.1", peerNode.port()));
        Endpoint toOwner;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((toOwner = peerNode.accepted()) == null) {
            assertTrue(System.nanoTime() < deadline, "owner did not connect");
            Thread.sleep(1);
        }
        return OdpMapping.attach(peerNode, toOwner, number, Duration.ofSeconds(10));
    }
}
