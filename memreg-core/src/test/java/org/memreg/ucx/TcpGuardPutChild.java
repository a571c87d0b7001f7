package org.memreg.ucx;

import java.util.HexFormat;

/**
 * {@link TcpGuardTest}'s attacker, in another process (a worker of the victim's own process is
 * trusted with its token): a UCX worker puts 16 bytes of {@code X} at an address of the victim's,
 * over TCP. Arguments: the victim's worker address (hex), the target address, then {@code none}
 * (no token; a key to the attacker's own memory), or a token
 * (hex) and the victim's packed key to the target (hex). Prints {@code put=} and {@code flush=}
 * with UCX's status ({@code Success}, an error, or {@code pending} after 20 s), and {@code shown=}
 * how many tokens it showed.
 */
public final class TcpGuardPutChild {

    private TcpGuardPutChild() {
    }

    public static void main(String[] args) {
        HexFormat hex = HexFormat.of();
        byte[] victim = hex.parseHex(args[0]);
        long target = Long.parseLong(args[1]);
        boolean stranger = args[2].equals("none");
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker attacker = UcxWorker.create(context);
             UcxMemory own = context.allocate(4096, rw)) {
            if (!stranger) {
                attacker.requireTcpToken(hex.parseHex(args[2]));
            }
            long ep = attacker.connect(victim, Ucp.ERR_HANDLING_MODE_PEER);
            long key = attacker.unpackRkey(ep, stranger ? own.packRkey() : hex.parseHex(args[3]));
            own.segment().fill((byte) 'X');
            long put = attacker.put(ep, own.address(), 16, target, key, own.memh());
            System.out.println("put=" + UcxTestSupport.statusOf(attacker, put));
            System.out.println("flush=" + UcxTestSupport.statusOf(attacker, attacker.flushEndpoint(ep)));
            System.out.println("shown=" + TcpGuard.shown());
            attacker.destroyRkey(key);
            UcxTestSupport.statusOf(attacker, attacker.closeEndpoint(ep, true));
        }
    }
}
