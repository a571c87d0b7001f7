package org.memreg.ucx;

import java.lang.foreign.MemorySegment;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborts the process:
 * a worker over TCP (without a token) sends a friend worker 1 MiB that the friend does not receive
 * yet (the rendezvous waits, its request id out), and a stranger on a plain socket sends the worker
 * one rendezvous ATP message per request id UCP counts out first (1, 3, ... 63), each on a fresh
 * connection. One of them named the waiting send, and UCX 1.13 aborted at its assertion that the
 * request is a ready-to-receive (ucp_request.inl:1101). Then the two exchange a message both ways.
 * Prints {@code forged=}, {@code dropped=} (the guard's count), {@code received=} both messages,
 * and {@code survived=true}.
 */
public final class AtpForger {
    private static final int ATP = 16; // UCP_AM_ID_RNDV_ATP

    private AtpForger() {
    }

    public static void main(String[] args) throws Exception {
        try (ForgeryTarget target = new ForgeryTarget()) {
            MemorySegment big = target.arena.allocate(1 << 20);
            long waiting = target.victim.tagSend(target.out, big.address(), big.byteSize(), 77, 0); // none receives 77
            for (int i = 0; i < 100; i++) {
                target.progress();
            }
            long dropped = RendezvousGuard.atpDropped();
            int forged = 0;
            for (long id = 1; id < 64; id += 2, forged++) {
                target.forge(new TcpFrames().magic().request(id * 7919, 0, 9).header(ATP, 9).putLong(id).put((byte) 0)
                        .toArray(), () -> false, 50_000_000L);
            }
            System.out.println("forged=" + forged);
            System.out.println("dropped=" + (RendezvousGuard.atpDropped() - dropped));
            System.out.println("waiting=" + Ucp.statusString(Ucp.requestCheckStatus(waiting)));
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }
}
