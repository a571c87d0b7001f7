package org.memreg.transport;

import java.lang.foreign.Arena;

/**
 * The client side of the across-hosts test, run in its own network namespace: connects to an
 * {@link EchoPeer} at {@code args[0]:args[1]}, echoes 8 B to 64 MiB and puts/gets a window with
 * every byte checked, prints one line per step and {@code ok}, and exits 0; any failure prints
 * the stack trace and exits 1.
 */
public final class EchoClient {
    private EchoClient() {
    }

    public static void main(String[] args) {
        long seed = Long.parseLong(args[2]);
        try (Node node = Node.builder().name("client").build(); Arena arena = Arena.ofShared()) {
            Endpoint peer = node.connect(args[0], Integer.parseInt(args[1]));
            TransportPeers.echoAndWindow(node, peer, arena, seed);
            System.out.println("put/get verified");
            TransportPeers.stop(node, peer);
            System.out.println("ok");
            System.out.flush();
        } catch (Throwable e) {
            e.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }
}
