package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborted the process:
 * a worker over TCP (without a token) sends a friend worker 1 MiB that the friend does not receive
 * yet (the rendezvous waits, its request id out), and a stranger on a plain socket sends the worker
 * 32 rendezvous messages of kind {@code args[0]}, one per id, each on a fresh connection; then the
 * friend receives the message, and the two exchange one more both ways.
 * <ul>
 *   <li>{@code atp}: ATPs ("the put is done") naming the waiting send's id and its neighbours, as
 *       the peer the send went to could. UCX 1.13 aborted at its assertion that the request is a
 *       ready-to-receive (ucp_request.inl:1101).
 *   <li>{@code ats}, {@code rtr}: ATSs ("the data arrived") or RTRs ("ready to receive") naming the
 *       ids UCX counted from zero (1, 3, ... 63), as a stranger would guess them. With counted ids
 *       the waiting send completed as delivered, and its receiver never got the data.
 *   <li>{@code ats-near}: ATSs naming the neighbours of the id of an earlier send, which the peer
 *       that send went to saw; with ids counted on from there, the next send's was one of them.
 * </ul>
 * Prints {@code forged=}, {@code named=} (whether a forged id was the waiting send's, as the guard
 * noted it), {@code dropped=} (the ATP guard's count), {@code early=} (the send's status before its
 * receive), {@code delivered=} (the receive's status, and whether every byte arrived), {@code sent=}
 * (the send's status after), {@code received=} both last messages, and {@code survived=true}.
 */
public final class RendezvousForger {
    private static final int ATS = 10; // UCP_AM_ID_RNDV_ATS
    private static final int RTR = 11; // UCP_AM_ID_RNDV_RTR
    private static final int ATP = 16; // UCP_AM_ID_RNDV_ATP
    private static final int SIZE = 1 << 20;
    private static final long TAG = 77;
    private static final int FORGED = 32;

    private RendezvousForger() {
    }

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        try (ForgeryTarget target = new ForgeryTarget()) {
            MemorySegment big = target.arena.allocate(SIZE);
            for (int i = 0; i < SIZE; i++) {
                big.set(JAVA_BYTE, i, (byte) (i * 31 + 7));
            }
            long seen = 0;
            if (kind.equals("ats-near")) {
                long sends = IdGuard.Log.SENDS.count();
                long earlier = target.victim.tagSend(target.out, big.address(), big.byteSize(), TAG - 1, 0);
                seen = IdGuard.Log.SENDS.get(sends); // what its RTS told the friend
                System.out.println("earlier=" + target.receive(big, TAG - 1) + "/"
                        + UcxTestSupport.statusOf(target.victim, earlier));
            }
            long sends = IdGuard.Log.SENDS.count();
            long waiting = target.victim.tagSend(target.out, big.address(), big.byteSize(), TAG, 0);
            long waitingId = IdGuard.Log.SENDS.get(sends);
            for (int i = 0; i < 100; i++) {
                target.progress();
            }
            List<Long> ids = new ArrayList<>();
            for (int j = 0; j < FORGED; j++) {
                ids.add(switch (kind) {
                    case "atp" -> waitingId + 2L * (j - FORGED / 2); // the waiting id among them
                    case "ats-near" -> seen + 2L * (j < FORGED / 2 ? j - FORGED / 2 : j - FORGED / 2 + 1);
                    default -> 1 + 2L * j; // the stranger guesses UCX's count
                });
            }
            int am = kind.equals("atp") ? ATP : kind.equals("rtr") ? RTR : ATS;
            long dropped = HandlerGuard.atpDropped();
            for (int j = 0; j < FORGED; j++) {
                target.forge(new TcpFrames().magic().request(j * 7919L + 1, 0, 9).header(am, 9).putLong(ids.get(j))
                        .put((byte) 0).toArray(), () -> false, 50_000_000L);
            }
            System.out.println("forged=" + ids.size());
            System.out.println("named=" + ids.contains(waitingId));
            System.out.println("dropped=" + (HandlerGuard.atpDropped() - dropped));
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
