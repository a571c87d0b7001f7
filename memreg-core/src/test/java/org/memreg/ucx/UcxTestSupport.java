package org.memreg.ucx;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Skips a test, saying why, where OpenUCX is not installed. */
public final class UcxTestSupport {
    private UcxTestSupport() {
    }

    /** Skips the calling test unless libucp can be loaded. */
    public static void assumeUcx() {
        if (!Ucp.isAvailable()) {
            String reason = Ucp.unavailableReason().orElse("UCX unavailable");
            System.out.println("skipped: " + reason);
            assumeTrue(false, reason);
        }
    }
}
