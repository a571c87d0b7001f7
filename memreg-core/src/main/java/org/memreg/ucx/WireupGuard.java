package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * memreg's guard over an assertion of UCP 1.13 that a peer can reach ({@code
 * src/main/native/memreg_wireup_guard.c}, in {@link GuardLibrary}): a UCP endpoint that failed
 * while its wire-up reply still waited in a transport's pending queue aborted the process
 * ({@code ucp_request.c:684}). Over TCP the reply waits for the peer to acknowledge the
 * connection it goes out on, so a peer that closed that connection and left ended the node. The
 * guard frees such a message, as UCX 1.14 does, and counts it ({@link #freed}).
 */
final class WireupGuard {
    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_wireup_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FREED = LIBRARY.downcall("memreg_wireup_freed",
            FunctionDescriptor.of(JAVA_LONG));

    private WireupGuard() {
    }

    /** Hands the guard libucp's own {@code ucp_request_send_state_ff} and {@code ucp_wireup_msg_progress}. */
    static void install(SymbolLookup libucp) {
        long stateFf = GuardLibrary.ucxFunction(libucp, "ucp_request_send_state_ff");
        long msgProgress = GuardLibrary.ucxFunction(libucp, "ucp_wireup_msg_progress");
        try {
            INSTALL.invokeExact(stateFf, msgProgress);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Wire-up requests and replies freed when their endpoint failed, where UCX 1.13 would have aborted. */
    static long freed() {
        return GuardLibrary.counter(FREED);
    }
}
