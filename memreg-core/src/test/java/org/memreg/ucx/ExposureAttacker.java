package org.memreg.ucx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * {@link ExposedMemoryTest}'s peer, in a process of its own: a UCX worker that puts into and gets
 * from a victim's memory over TCP, each operation on a fresh worker (a refused one ends its
 * connection). Arguments: the victim's worker address (hex), a remote key the victim packed (hex;
 * over TCP it carries nothing that binds an address), then operations {@code put:ADDRESS:LENGTH}
 * (that many bytes of {@code X}) and {@code get:ADDRESS:LENGTH}. Prints {@code op<i>=} with UCX's
 * status of the operation and its flush ({@code Success/Success} when it went through; {@code
 * pending} after 20 s) and, for a get, {@code data<i>=} with what arrived (zeros if nothing).
 */
public final class ExposureAttacker {

    private ExposureAttacker() {
    }

    public static void main(String[] args) {
        HexFormat hex = HexFormat.of();
        byte[] victim = hex.parseHex(args[0]);
        byte[] packedKey = hex.parseHex(args[1]);
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxMemory own = context.allocate(4096, rw)) {
            for (int i = 2; i < args.length; i++) {
                String[] op = args[i].split(":");
                long address = Long.parseLong(op[1]);
                int length = Integer.parseInt(op[2]);
                boolean put = op[0].equals("put");
                own.segment().fill(put ? (byte) 'X' : 0);
                try (UcxWorker attacker = UcxWorker.create(context)) {
                    long ep = attacker.connect(victim, Ucp.ERR_HANDLING_MODE_PEER);
                    long key = attacker.unpackRkey(ep, packedKey);
                    long request = put ? attacker.put(ep, own.address(), length, address, key, own.memh())
                            : attacker.get(ep, own.address(), length, address, key, own.memh());
                    String status = UcxTestSupport.statusOf(attacker, request);
                    String flushed = UcxTestSupport.statusOf(attacker, attacker.flushEndpoint(ep));
                    System.out.println("op" + (i - 2) + "=" + status + "/" + flushed);
                    if (!put) {
                        MemorySegment data = own.segment().asSlice(0, length);
                        System.out.println("data" + (i - 2) + "="
                                + new String(data.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1));
                    }
                    attacker.destroyRkey(key);
                    UcxTestSupport.statusOf(attacker, attacker.closeEndpoint(ep, true));
                }
            }
        }
    }
}
