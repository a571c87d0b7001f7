package org.memreg.ucx;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link WireupGuardTest}'s victim and forger, in a child JVM because what it guards against
 * aborts the process: a worker over TCP (without a token: anyone may connect) with endpoints to
 * and from a friend worker is sent forged UCP wire-up messages, each on a fresh plain socket to
 * its UCX TCP port: acknowledgements to the ids of the two workers' endpoints (as a peer
 * knows the id of the endpoint the worker made for it), without an address and with the victim's
 * own, and pre-requests to them. An acknowledgement to an endpoint that sent no reply, and a
 * pre-request, each ended UCX 1.13's process at an assertion (wireup.c:781, :475; one carrying an
 * address reaches :829); while ids were counted, at the first guess, 3. Then the two exchange a
 * message both ways. Prints {@code forged=} how many were sent, {@code dropped=} how many the
 * guard dropped, {@code passed=} acknowledgements it let through, {@code received=} both
 * messages, and {@code survived=true}.
 *
 * <p>With {@code removed}, the messages are instead 32 EP_REMOVED ("the endpoint you checked is
 * gone") naming the endpoint ids UCX counted from zero (1, 3, ... 63), as a stranger would guess
 * them; with {@code removed-near}, the 16 ids on either side of the one the worker gave a third
 * worker that connected to it, as that peer would guess them. The guard passes such a message on,
 * and while ids were counted one failed the worker's endpoint to its friend (wireup.c:840). Prints
 * {@code seen=} (whether the peer's id was found, {@code removed-near} only), {@code forged=},
 * {@code received=} and {@code survived=true}.
 */
public final class WireupForger {
    private static final long DEADLINE_NANOS = 20_000_000_000L;
    private static final int ACK = 3;
    private static final int PRE_REQUEST = 0;
    private static final int EP_REMOVED = 5;
    private static final long SETTLE_NANOS = 50_000_000L;

    private WireupForger() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0) {
            forgeRemoved(args[0].equals("removed-near"));
            return;
        }
        try (ForgeryTarget target = new ForgeryTarget()) {
            long passed = WireupGuard.acksPassed();
            List<byte[]> forged = new ArrayList<>();
            for (long id : target.endpointIds()) {
                forged.add(wireup(ACK, id, new byte[0]));
                forged.add(wireup(ACK, id, target.victim.address()));
                forged.add(wireup(PRE_REQUEST, id, new byte[0]));
            }
            long dropped = WireupGuard.dropped();
            for (byte[] bytes : forged) {
                long before = WireupGuard.dropped();
                target.forge(bytes, () -> WireupGuard.dropped() > before, DEADLINE_NANOS);
            }
            System.out.println("forged=" + forged.size());
            System.out.println("dropped=" + (WireupGuard.dropped() - dropped));
            System.out.println("passed=" + (WireupGuard.acksPassed() - passed));
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }

    private static void forgeRemoved(boolean near) throws Exception {
        try (ForgeryTarget target = new ForgeryTarget()) {
            List<Long> ids = new ArrayList<>();
            long seen = near ? target.idGivenToAPeer() : 0;
            for (long step = 1; step <= 16; step++) {
                ids.addAll(near ? List.of(seen - 2 * step, seen + 2 * step) : List.of(4 * step - 3, 4 * step - 1));
            }
            if (near) {
                System.out.println("seen=" + (seen != 0));
            }
            int forged = 0;
            for (long id : ids) {
                target.forge(wireup(EP_REMOVED, id, new byte[0]), () -> false, SETTLE_NANOS);
                forged++;
            }
            System.out.println("forged=" + forged);
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }

    /** A stranger's connection: the magic number, a connection request, and one wire-up message with address. */
    private static byte[] wireup(int type, long destination, byte[] address) {
        byte[] empty = {0, 1, 2, 3, 4, 5, 6, 7, 8, (byte) 0xff}; // UCX's first address format, a uuid, no device
        byte[] carried = address.length == 0 ? empty : address;
        return new TcpFrames().magic().request(destination * 7919, 0, 9).header(TcpFrames.WIREUP, 20 + carried.length)
                .put((byte) type).put((byte) 0).putShort((short) 0).putLong(1).putLong(destination).bytes(carried)
                .toArray();
    }
}
