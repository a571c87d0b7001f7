package org.memreg.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks a test class that matters for an unprivileged user (no CAP_IPC_LOCK, CAP_SYS_NICE or
 * CAP_SYS_PTRACE, RLIMIT_MEMLOCK in force, physical frames hidden): the cache, monitor,
 * mlock-limit, stat and CLI tests, and the transport's tests of hostile peers and misuse (no
 * peer may crash or corrupt a node of such a user either). Besides the normal run they run again, all in one child JVM
 * as user 65534, in memreg-cli's {@code UnprivilegedRunTest}; so they must not assume root.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag(Unprivileged.TAG)
public @interface Unprivileged {
    /** The JUnit tag the unprivileged run selects. */
    String TAG = "unprivileged";
}
