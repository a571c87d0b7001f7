package org.memreg.ucx;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link WireupGuardTest}'s victim and forger, in a child JVM because what it guards against
 * aborts the process: a worker over TCP (without a token: anyone may connect) with endpoints to
 * and from a friend worker is sent forged UCP wire-up messages, each on a fresh plain socket to
 * its UCX TCP port: acknowledgements to the endpoint ids UCP counts out first (3, 5, ... 31),
 * without an address and with the victim's own, and pre-requests to them. An acknowledgement to
 * an endpoint that sent no reply, and a pre-request, each ended UCX 1.13's process at an assertion
 * (wireup.c:781, :475; one carrying an address reaches :829). Then the two exchange a
 * message both ways. Prints {@code forged=} how many were sent, {@code dropped=} how many the
 * guard dropped, {@code passed=} acknowledgements it let through, {@code received=} both
 * messages, and {@code survived=true}.
 */
public final class WireupForger {
    private static final long DEADLINE_NANOS = 20_000_000_000L;
    private static final int ACK = 3;
    private static final int PRE_REQUEST = 0;

    private WireupForger() {
    }

    public static void main(String[] args) throws Exception {
        try (ForgeryTarget target = new ForgeryTarget()) {
            long passed = WireupGuard.acksPassed();
            List<byte[]> forged = new ArrayList<>();
            for (long id = 3; id <= 31; id += 2) {
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

    /** A stranger's connection: the magic number, a connection request, and one wire-up message with address. */
    private static byte[] wireup(int type, long destination, byte[] address) {
        byte[] empty = {0, 1, 2, 3, 4, 5, 6, 7, 8, (byte) 0xff}; // UCX's first address format, a uuid, no device
        byte[] carried = address.length == 0 ? empty : address;
        return new TcpFrames().magic().request(destination * 7919, 0, 9).header(TcpFrames.WIREUP, 20 + carried.length)
                .put((byte) type).put((byte) 0).putShort((short) 0).putLong(1).putLong(destination).bytes(carried)
                .toArray();
    }
}
