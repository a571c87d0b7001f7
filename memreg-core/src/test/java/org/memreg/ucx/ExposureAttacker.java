package org.memreg.ucx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Map;

/**
 * {@link ExposedMemoryTest}'s peer, in a process of its own: a UCX worker that puts into and gets
 * from a victim's memory over TCP, each operation on a fresh worker (a refused one ends its
 * connection). Arguments: optionally {@code tls=TRANSPORTS} first (UCX_TLS, for instance {@code
 * sysv}, where UCP puts and gets by software active messages, connected without UCX's error
 * handling, which shared memory alone cannot give; a refused one is dropped, so it is {@code
 * pending} after 3 s), the victim's worker address (hex), a remote key the victim packed
 * (hex; over TCP and sysv it carries nothing that binds an address), then operations {@code
 * put:ADDRESS:LENGTH} (that many bytes of {@code X}) and {@code get:ADDRESS:LENGTH}. Prints {@code
 * op<i>=} with UCX's status of the operation and its flush ({@code Success/Success} when it went
 * through; {@code pending} after 20 s) and, for a get, {@code data<i>=} with what arrived (zeros if
 * nothing).
 */
public final class ExposureAttacker {

    private ExposureAttacker() {
    }

    public static void main(String[] args) {
        HexFormat hex = HexFormat.of();
        boolean tcp = !args[0].startsWith("tls=");
        int first = tcp ? 0 : 1;
        Map<String, String> transports = tcp ? TcpGuardProbe.TCP : Map.of("TLS", args[0].substring(4));
        long patience = tcp ? 20_000_000_000L : 3_000_000_000L;
        byte[] victim = hex.parseHex(args[first]);
        byte[] packedKey = hex.parseHex(args[first + 1]);
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE;
        try (UcxContext context = UcxContext.create(transports); UcxMemory own = context.allocate(4096, rw)) {
            for (int i = first + 2; i < args.length; i++) {
                String[] op = args[i].split(":");
                long address = Long.parseLong(op[1]);
                int length = Integer.parseInt(op[2]);
                boolean put = op[0].equals("put");
                own.segment().fill(put ? (byte) 'X' : 0);
                try (UcxWorker attacker = UcxWorker.create(context)) {
                    long ep = attacker.connect(victim, tcp ? Ucp.ERR_HANDLING_MODE_PEER : Ucp.ERR_HANDLING_MODE_NONE);
                    long key = attacker.unpackRkey(ep, packedKey);
                    long request = put ? attacker.put(ep, own.address(), length, address, key, own.memh())
                            : attacker.get(ep, own.address(), length, address, key, own.memh());
                    String status = UcxTestSupport.statusOf(attacker, request, patience);
                    String flushed = UcxTestSupport.statusOf(attacker, attacker.flushEndpoint(ep), patience);
                    System.out.println("op" + (i - first - 2) + "=" + status + "/" + flushed);
                    if (!put) {
                        MemorySegment data = own.segment().asSlice(0, length);
                        System.out.println("data" + (i - first - 2) + "="
                                + new String(data.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1));
                    }
                    attacker.destroyRkey(key);
                    UcxTestSupport.statusOf(attacker, attacker.closeEndpoint(ep, true));
                }
            }
        }
    }
}
