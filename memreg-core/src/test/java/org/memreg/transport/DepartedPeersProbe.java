package org.memreg.transport;

import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.memreg.device.Access;
import org.memreg.ucx.UcxTestSupport;

/**
 * {@link DepartedPeersTest}'s probe, in a child JVM because what it guards against aborts the
 * process. Over TCP, in the error mode given: a node puts into and gets from windows of {@value
 * #PEERS} peers that have stopped progressing, then closes; then the peers progress again and
 * close. Prints {@code closeMillis} (the node's close), {@code sendsToDeparted} (the TCP guard's
 * count of sends to a peer that had left, reported to UCX as sent) and {@code survived=true}.
 */
public final class DepartedPeersProbe {
    static final int PEERS = 4;

    private DepartedPeersProbe() {
    }

    public static void main(String[] args) throws Exception {
        ErrorMode mode = ErrorMode.valueOf(args[0]);
        List<Node> peers = new ArrayList<>();
        for (int i = 0; i < PEERS; i++) {
            peers.add(loopback("stalled-" + i).ucx("TLS", "tcp").errorMode(mode).progressThread(false)
                    .listen(new InetSocketAddress("127.0.0.1", 0)).build());
        }
        AtomicBoolean peersProgress = new AtomicBoolean(true);
        Thread driver = new Thread(() -> { // the peers progress only while this runs
            while (peersProgress.get()) {
                for (Node peer : peers) {
                    peer.progress();
                }
            }
        }, "peers' progress");
        driver.start();
        Node node = loopback("leaving").ucx("TLS", "tcp").errorMode(mode).build();
        List<RemoteWindow> remotes = new ArrayList<>();
        for (Node peer : peers) {
            Endpoint endpoint = node.connect("127.0.0.1", peer.port());
            remotes.add(endpoint.attach(peer.allocateWindow(1 << 20, Access.ALL).key()));
        }
        peersProgress.set(false);
        driver.join();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(64 << 10);
            for (RemoteWindow remote : remotes) { // over TCP software RMA: the peer answers each when it reads it
                remote.put(0, data);
                remote.get(0, arena.allocate(64 << 10));
            }
            long start = System.nanoTime();
            node.close();
            System.out.println("closeMillis=" + (System.nanoTime() - start) / 1_000_000);
        }
        for (Node peer : peers) { // they read the puts and gets of a node that has gone, and answer it
            for (int i = 0; i < 100_000; i++) {
                peer.progress();
            }
        }
        for (Node peer : peers) {
            peer.close();
        }
        System.out.println("sendsToDeparted=" + UcxTestSupport.tcpSendsToDeparted());
        System.out.println("survived=true");
    }
}
