package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where OpenUCX cannot be loaded, fails a test that needs it: {@code bin/test} installs it, so its
 * absence is a broken set-up, not a reason to pass. {@code MEMREG_ALLOW_SKIP=1} makes it a skip
 * instead (a machine without UCX on purpose), saying why.
 */
public final class UcxTestSupport {
    /** The environment variable that turns a missing UCX into a skip. */
    public static final String ALLOW_SKIP = "MEMREG_ALLOW_SKIP";

    private UcxTestSupport() {
    }

    /** Fails (or, with {@code MEMREG_ALLOW_SKIP=1}, skips) the calling test unless libucp loads. */
    public static void assumeUcx() {
        requireUcx(Ucp.isAvailable(), Ucp.unavailableReason().orElse("UCX unavailable"),
                "1".equals(System.getenv(ALLOW_SKIP)));
    }

    /** Progresses {@code workers} until {@code request} (a status pointer or a request) is done, then frees it. */
    public static void complete(long request, UcxWorker... workers) {
        while (Ucp.isRequest(request) && Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
            for (UcxWorker worker : workers) {
                worker.progress();
            }
        }
        if (Ucp.isRequest(request)) {
            Ucp.requestFree(request);
        }
    }

    /** TCP connections this process's workers admitted with their token ({@code TcpGuard}), for tests elsewhere. */
    public static long tcpAdmitted() {
        return TcpGuard.admitted();
    }

    /** Sends to a TCP peer that had left, reported to UCX as sent ({@code TcpGuard}), for tests elsewhere. */
    public static long tcpSendsToDeparted() {
        return TcpGuard.sendsToDeparted();
    }

    /** The decision of {@link #assumeUcx()}, for a test of it. */
    static void requireUcx(boolean available, String reason, boolean allowSkip) {
        if (available) {
            return;
        }
        if (allowSkip) {
            System.out.println("skipped (" + ALLOW_SKIP + "=1): " + reason);
            assumeTrue(false, reason);
        }
        fail(reason + " (bin/test installs OpenUCX; " + ALLOW_SKIP + "=1 skips the tests that need it)");
    }
}
