package org.memreg.ucx;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Socket;
import java.util.Map;

/**
 * Reproduces two hazards of UCX 1.13's TCP transport (the README's "UCX's TCP transport trusts
 * whoever connects to its port") for workers that require no TCP token, as those of a node
 * without a secret ({@link TcpGuardTest} shows both refused to strangers of a worker that does).
 * Not a test: each mode shows the fault in this process, and {@code frame} ends it.
 * <ul>
 *   <li>{@code frame}: connects to a worker's UCX TCP port (taken from its address) with a plain
 *       socket and sends UCX's magic number, then one frame of a kind UCX does not expect. The
 *       JVM aborts ({@code tcp_ep.c:1440 Assertion hdr->am_id == UCT_TCP_EP_CM_AM_ID}).
 *   <li>{@code put}: a second worker, with a worker's address and a key to its <em>own</em> memory,
 *       puts 16 bytes into memory the first never registered; prints that memory before and after.
 * </ul>
 * Run: {@code java --enable-native-access=ALL-UNNAMED -cp <test classpath> org.memreg.ucx.UcxTcpHazards frame|put}.
 */
public final class UcxTcpHazards {
    private static final Map<String, String> TCP = Map.of("NET_DEVICES", "lo", "TLS", "tcp");
    private static final int UNEXPECTED_AM_ID = 200; // above UCT_AM_ID_MAX and none of UCX's own

    private UcxTcpHazards() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("frame")) {
            frame();
        } else if (args.length == 1 && args[0].equals("put")) {
            put();
        } else {
            System.err.println("usage: UcxTcpHazards frame|put");
        }
    }

    private static void frame() throws Exception {
        try (UcxContext context = UcxContext.create(TCP); UcxWorker victim = UcxWorker.create(context)) {
            int port = AddressLayout.tcpPort(victim.address());
            try (Socket socket = new Socket("127.0.0.1", port)) {
                OutputStream out = socket.getOutputStream();
                out.write(new TcpFrames().magic().header(UNEXPECTED_AM_ID, 0).toArray());
                out.flush();
                System.out.println("sent UCX's magic number and a frame of id " + UNEXPECTED_AM_ID + " to port " + port);
                for (int i = 0; i < 1_000_000; i++) {
                    victim.progress();
                }
            }
            System.out.println("the worker survived");
        }
    }

    private static void put() {
        MemorySegment unregistered = Arena.global().allocate(32);
        unregistered.fill((byte) 'v');
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE;
        try (UcxContext victimContext = UcxContext.create(TCP); UcxWorker victim = UcxWorker.create(victimContext);
             UcxContext peerContext = UcxContext.create(TCP); UcxWorker peer = UcxWorker.create(peerContext);
             UcxMemory own = peerContext.allocate(4096, rw)) {
            System.out.println("before: " + new String(unregistered.toArray(ValueLayout.JAVA_BYTE)));
            long ep = peer.connect(victim.address(), Ucp.ERR_HANDLING_MODE_NONE);
            long key = peer.unpackRkey(ep, own.packRkey()); // a key to the peer's own memory
            own.segment().fill((byte) 'X');
            long put = peer.put(ep, own.address(), 16, unregistered.address(), key, own.memh());
            UcxTestSupport.complete(peer.flushEndpoint(ep), peer, victim);
            System.out.println("after:  " + new String(unregistered.toArray(ValueLayout.JAVA_BYTE))
                    + " (put " + (Ucp.isRequest(put) ? Ucp.statusString(Ucp.requestCheckStatus(put)) : "done") + ")");
        }
    }
}
