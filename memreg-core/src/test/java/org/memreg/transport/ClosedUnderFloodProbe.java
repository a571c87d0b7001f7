package org.memreg.transport;

import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;

/**
 * {@link UnexpectedMessagesTest}'s node that closes while a peer floods it with messages nobody
 * receives, under user and foreign tags, so that some arrive during the close's last progress
 * rounds: in a child JVM, whose output (UCX's warnings included) the test reads, and which UCX
 * may abort. {@code args}: rounds (a node each) and the messages' size. Prints {@code sent=} and
 * {@code closed=true}.
 */
public final class ClosedUnderFloodProbe {
    private ClosedUnderFloodProbe() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        long size = Long.parseLong(args[1]);
        long sent = 0;
        for (int round = 0; round < rounds; round++) {
            Node node = loopback("flooded").listen(new InetSocketAddress("127.0.0.1", 0)).build();
            try (RawUcxPeer peer = new RawUcxPeer(); Arena arena = Arena.ofConfined()) {
                MemorySegment message = arena.allocate(size, 8);
                peer.send(node, 7, message); // connected
                Thread closer = Thread.ofPlatform().start(node::close);
                try {
                    while (closer.isAlive()) {
                        peer.sendAndGo(node, sent % 2 == 0 ? 7 : 0x42L << 56 | sent, message);
                        sent++;
                    }
                } catch (IllegalStateException e) { // the node is gone (TCP tells at once)
                }
                closer.join();
            }
        }
        System.out.println("sent=" + sent);
        System.out.println("closed=true");
    }
}
