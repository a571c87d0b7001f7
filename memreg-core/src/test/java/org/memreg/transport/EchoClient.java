package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The client side of the across-hosts test, run in its own network namespace: connects to an
 * {@link EchoPeer} at {@code args[0]:args[1]}, echoes 8 B to 64 MiB and puts/gets a window with
 * every byte checked, prints one line per step and {@code ok}, and exits 0; any failure prints
 * the stack trace and exits 1.
 */
public final class EchoClient {
    private static final long MIB = 1L << 20;

    private EchoClient() {
    }

    public static void main(String[] args) {
        long seed = Long.parseLong(args[2]);
        try (Node node = Node.builder().name("client").build(); Arena arena = Arena.ofShared()) {
            Endpoint peer = node.connect(args[0], Integer.parseInt(args[1]));
            MemorySegment out = arena.allocate(64 * MIB, 4096);
            MemorySegment in = arena.allocate(64 * MIB, 4096);
            long[] sizes = {8, 100, 4096, 16 << 10, (16 << 10) + 1, MIB, MIB + 3, 5 * MIB + 7, 64 * MIB};
            for (long size : sizes) {
                long nanos = TransportPeers.echo(node, peer, out, in, size, seed + size);
                System.out.printf("echo %d bytes: %.1f µs%n", size, nanos / 1e3);
            }
            RemoteWindow window = TransportPeers.window(node, peer, 8 * MIB);
            TransportPeers.putGet(window, out, in, 0, 4096, seed);
            TransportPeers.putGet(window, out, in, 12345, 2 * MIB, seed + 1);
            TransportPeers.putGet(window, out, in, 8 * MIB - 4096, 4096, seed + 2);
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
