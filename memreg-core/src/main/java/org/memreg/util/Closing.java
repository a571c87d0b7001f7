package org.memreg.util;

/**
 * Closes several resources in order, every one of them even when some fail: the first failure
 * is thrown at the end with the later ones suppressed into it, so nothing is left open because
 * something before it threw, and no failure is lost.
 */
public final class Closing {
    private Closing() {
    }

    /**
     * Closes each non-null resource in order.
     *
     * @throws RuntimeException the first failure (a checked one wrapped), the rest suppressed
     * @throws Error the first failure when it is an error
     */
    public static void all(AutoCloseable... resources) {
        Throwable first = null;
        for (AutoCloseable resource : resources) {
            if (resource == null) {
                continue;
            }
            try {
                resource.close();
            } catch (Exception | Error e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        rethrow(first);
    }

    /** Closes each resource after {@code failure}, adding what they throw to it as suppressed. */
    public static void afterFailure(Throwable failure, AutoCloseable... resources) {
        try {
            all(resources);
        } catch (RuntimeException | Error e) {
            failure.addSuppressed(e);
        }
    }

    private static void rethrow(Throwable first) {
        if (first instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (first instanceof Error error) {
            throw error;
        }
        if (first != null) {
            throw new IllegalStateException("closing failed: " + first.getMessage(), first);
        }
    }
}
