package org.memreg.ucx;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborted the process:
 * a worker over TCP (without a token) with endpoints to and from a friend is sent, on a plain
 * socket, one software RMA completion (CMPL) per endpoint id of the two, as the peer each endpoint
 * is for knows its own. UCX 1.13 asserted that the named endpoint's flush state was set up
 * (ucp_ep.inl:157), and it was not. Then the two exchange a message both ways. Prints {@code
 * forged=}, {@code dropped=} (the handler guard's count), {@code received=} both messages, and
 * {@code survived=true}.
 */
public final class CompletionForger {
    private static final int CMPL = 22; // UCP_AM_ID_CMPL

    private CompletionForger() {
    }

    public static void main(String[] args) throws Exception {
        try (ForgeryTarget target = new ForgeryTarget()) {
            long dropped = HandlerGuard.cmplDropped();
            int forged = 0;
            for (long id : target.endpointIds()) {
                target.forge(new TcpFrames().magic().request(id >>> 3, 0, 9).header(CMPL, 8).putLong(id).toArray(),
                        () -> false, 50_000_000L);
                forged++;
            }
            System.out.println("forged=" + forged);
            System.out.println("dropped=" + (HandlerGuard.cmplDropped() - dropped));
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }
}
