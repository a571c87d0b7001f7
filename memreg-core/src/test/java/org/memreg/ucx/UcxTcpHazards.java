package org.memreg.ucx;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

/**
 * Reproduces a hazard of UCX 1.13's TCP transport (the README's "UCX's TCP transport trusts whoever
 * connects to its port") for workers that require no TCP token, as those of a node without a
 * secret ({@link TcpGuardTest} shows it refused to strangers of a worker that does). Not a test.
 * {@code put}: a second worker, with a worker's address and a key to its <em>own</em> memory, puts
 * 16 bytes into memory the first never registered; prints that memory before and after. (A
 * stranger's frame that aborted UCX, this class's former {@code frame}, is refused by memreg's
 * TCP guard on every worker now: {@link TcpGuardProbe}.)
 * Run: {@code java --enable-native-access=ALL-UNNAMED -cp <test classpath> org.memreg.ucx.UcxTcpHazards put}.
 */
public final class UcxTcpHazards {
    private static final Map<String, String> TCP = Map.of("NET_DEVICES", "lo", "TLS", "tcp");

    private UcxTcpHazards() {
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("put")) {
            put();
        } else {
            System.err.println("usage: UcxTcpHazards put");
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
