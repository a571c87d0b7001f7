package org.memreg.ucx;

import java.lang.foreign.MemorySegment;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborted the process:
 * a worker over TCP (without a token) sends a friend worker 1 MiB that the friend does not receive
 * yet (the rendezvous waits, its request id out), and a stranger on a plain socket sends the worker
 * one rendezvous message of kind {@code args[0]} per id, each on a fresh connection; then the friend
 * receives the message, and the two exchange one more both ways.
 * <ul>
 *   <li>{@code atp}: ATPs ("the put is done") naming the first 32 ids of the worker's request map, as
 *       a peer that saw one of them could. One of them names the waiting send, and UCX 1.13 aborted
 *       at its assertion that the request is a ready-to-receive (ucp_request.inl:1101).
 *   <li>{@code ats}, {@code rtr}: ATSs ("the data arrived") or RTRs ("ready to receive") naming the
 *       ids UCX counted from zero (1, 3, ... 63), as a stranger would guess them. With counted ids
 *       the waiting send completed as delivered, and its receiver never got the data.
 * </ul>
 * Prints {@code forged=}, {@code dropped=} (the ATP guard's count), {@code early=} (the send's
 * status before its receive), {@code delivered=} (the receive's status, and whether every byte
 * arrived), {@code sent=} (the send's status after), {@code received=} both last messages, and
 * {@code survived=true}.
 */
public final class RendezvousForger {
    private static final int ATS = 10; // UCP_AM_ID_RNDV_ATS
    private static final int RTR = 11; // UCP_AM_ID_RNDV_RTR
    private static final int ATP = 16; // UCP_AM_ID_RNDV_ATP
    private static final int SIZE = 1 << 20;
    private static final long TAG = 77;

    private RendezvousForger() {
    }

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        try (ForgeryTarget target = new ForgeryTarget()) {
            MemorySegment big = target.arena.allocate(SIZE);
            for (int i = 0; i < SIZE; i++) {
                big.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
            }
            long waiting = target.victim.tagSend(target.out, big.address(), big.byteSize(), TAG, 0);
            for (int i = 0; i < 100; i++) {
                target.progress();
            }
            long dropped = RendezvousGuard.atpDropped();
            int am = kind.equals("atp") ? ATP : kind.equals("ats") ? ATS : RTR;
            long first = kind.equals("atp") ? target.requestIdsStart() + 3 : 1; // the stranger guesses UCX's count
            int forged = 0;
            for (long id = first; forged < 32; id += 2, forged++) {
                target.forge(new TcpFrames().magic().request(forged * 7919L + 1, 0, 9).header(am, 9).putLong(id)
                        .put((byte) 0).toArray(), () -> false, 50_000_000L);
            }
            System.out.println("forged=" + forged);
            System.out.println("dropped=" + (RendezvousGuard.atpDropped() - dropped));
            System.out.println("early=" + Ucp.statusString(Ucp.requestCheckStatus(waiting)));
            if (!kind.equals("atp")) { // the ATP's send never completes: the guard took it out of UCP's map
                System.out.println("delivered=" + target.receive(big, TAG));
                System.out.println("sent=" + UcxTestSupport.statusOf(target.victim, waiting));
            }
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }
}
