package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.memreg.device.Access;

/**
 * The other process of the two-process tests: listens on {@code args[0]} (address, port 0),
 * prints {@code port=N}, and serves until told to stop:
 * <ul>
 *   <li>tag 1: a command (8 bytes: the size of the next message);
 *   <li>tag 2: data of that size, echoed back under tag 3;
 *   <li>tag 4: "make a window" of the commanded size: the window key comes back under tag 5;
 *   <li>tag 9: stop; the reply under tag 10 is this peer's peak registered bytes.
 * </ul>
 */
public final class EchoPeer {
    private EchoPeer() {
    }

    public static void main(String[] args) throws Exception {
        InetSocketAddress listen = new InetSocketAddress(args[0], 0);
        try (Node node = Node.builder().name("echo").listen(listen).build(); Arena arena = Arena.ofShared()) {
            System.out.println("port=" + node.port());
            System.out.flush();
            Endpoint peer = null;
            MemorySegment command = arena.allocate(8, 8);
            Window window = null;
            while (true) {
                long size;
                node.receive(1, command).get(120, TimeUnit.SECONDS);
                size = command.get(JAVA_LONG, 0);
                while (peer == null) {
                    peer = node.accepted();
                    Thread.onSpinWait();
                }
                if (size == -1) {
                    MemorySegment peak = arena.allocate(8, 8);
                    peak.set(JAVA_LONG, 0, node.peakRegisteredBytes());
                    peer.send(10, peak).get(30, TimeUnit.SECONDS);
                    break;
                }
                if (size < -1) { // make a window of -size bytes
                    if (window != null) {
                        window.close();
                    }
                    window = node.allocateWindow(-size, Access.ALL);
                    byte[] key = window.key().toBytes();
                    MemorySegment bytes = arena.allocate(key.length, 8);
                    bytes.copyFrom(MemorySegment.ofArray(key));
                    peer.send(5, bytes).get(30, TimeUnit.SECONDS);
                    continue;
                }
                try (Arena data = Arena.ofConfined()) {
                    MemorySegment buffer = data.allocate(size, 4096);
                    long got = node.receive(2, buffer).get(120, TimeUnit.SECONDS);
                    peer.send(3, buffer.asSlice(0, got)).get(120, TimeUnit.SECONDS);
                }
            }
            if (window != null) {
                window.close();
            }
        }
        System.out.println("done");
    }
}
