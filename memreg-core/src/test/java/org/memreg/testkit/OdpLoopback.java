package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.memreg.odp.OdpMapping;
import org.memreg.odp.OdpRegion;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;

/**
 * Owner and peers as transport nodes in one JVM, on loopback: what the in-process ODP tests and
 * memreg-cli's {@code OdpStatChild} share.
 */
public final class OdpLoopback {
    private OdpLoopback() {
    }

    /** A node with error mode PEER (leases need failures reported), listening on loopback when asked. */
    public static Node node(String name, boolean listen) {
        var b = Node.builder().name(name).ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER);
        if (listen) {
            b.listen(new InetSocketAddress("127.0.0.1", 0));
        }
        return b.build();
    }

    /** Serves {@code peerNode} from {@code region} and attaches its mapping; returns the mapping. */
    public static OdpMapping attach(Node ownerNode, OdpRegion region, int number, Node peerNode) throws Exception {
        return attach(ownerNode, region, number, peerNode, Duration.ofSeconds(10));
    }

    /** As {@link #attach(Node, OdpRegion, int, Node)}, the mapping's operations waiting at most {@code timeout}. */
    public static OdpMapping attach(Node ownerNode, OdpRegion region, int number, Node peerNode, Duration timeout)
            throws Exception {
        region.serve(ownerNode.connect("127.0.0.1", peerNode.port()));
        Endpoint toOwner;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((toOwner = peerNode.accepted()) == null) {
            assertTrue(System.nanoTime() < deadline, "owner did not connect");
            Thread.sleep(1);
        }
        return OdpMapping.attach(peerNode, toOwner, number, timeout);
    }

    /** Waits until every reclaim of {@code region} was acknowledged by its peers, at most {@code timeout}. */
    public static void awaitReclaims(OdpRegion region, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (region.pendingReclaims() > 0) {
            assertTrue(System.nanoTime() < deadline, "reclaim acknowledged: " + region.stats());
            Thread.sleep(2);
        }
    }
}
