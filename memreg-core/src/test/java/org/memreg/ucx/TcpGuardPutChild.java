package org.memreg.ucx;

import java.util.HexFormat;

/**
 * {@link TcpGuardTest}'s attacker, in another process (a worker of the victim's own process is
 * trusted with its token): a UCX worker puts 16 bytes of {@code X} at an address of the victim's,
 * over TCP. Arguments: the victim's worker address (hex), the target address, then {@code none}
 * (no token; a key to the attacker's own memory, as in {@code UcxTcpHazards put}), or a token
 * (hex) and the victim's packed key to the target (hex). Prints {@code put=} and {@code flush=}
 * with UCX's status ({@code Success}, an error, or {@code pending} after 20 s), and {@code shown=}
 * how many tokens it showed.
 */
public final class TcpGuardPutChild {
    private static final long DEADLINE_NANOS = 20_000_000_000L;

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
            System.out.println("put=" + finish(attacker, attacker.put(ep, own.address(), 16, target, key, own.memh())));
            System.out.println("flush=" + finish(attacker, attacker.flushEndpoint(ep)));
            System.out.println("shown=" + TcpGuard.shown());
            attacker.destroyRkey(key);
            finish(attacker, attacker.closeEndpoint(ep, true));
        }
    }

    /** UCX's status of a request once done (or "pending" after the deadline), the request freed. */
    private static String finish(UcxWorker worker, long request) {
        if (!Ucp.isRequest(request)) {
            return Ucp.statusString((int) request);
        }
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (Ucp.requestCheckStatus(request) == Ucp.INPROGRESS && System.nanoTime() < deadline) {
            worker.progress();
        }
        int status = Ucp.requestCheckStatus(request);
        if (status == Ucp.INPROGRESS) {
            return "pending";
        }
        Ucp.requestFree(request);
        return Ucp.statusString(status);
    }
}
