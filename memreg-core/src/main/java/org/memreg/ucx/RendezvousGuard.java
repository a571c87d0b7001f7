package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * memreg's guard over an assertion of UCP 1.13 that a peer reaches with a request id ({@code
 * src/main/native/memreg_rendezvous_guard.c}, in {@link GuardLibrary}): a rendezvous ATP message
 * naming a request that is not one of the node's ready-to-receive requests (a send in flight:
 * request ids were counted from zero; they are random now, {@link IdGuard}, but the peer a send
 * went to knows its id) aborted the process ({@code ucp_request.inl:1101}), from one frame of a stranger's over
 * TCP. The guard stands in front of UCP's ATP handler and drops such a message
 * where UCP asserts ({@link #atpDropped}); the transfer the message named does not complete.
 */
final class RendezvousGuard {
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_rendezvous_install",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle ATP_DROPPED = GuardLibrary.LIBRARY.downcall("memreg_rendezvous_atp_dropped",
            FunctionDescriptor.of(JAVA_LONG));

    private RendezvousGuard() {
    }

    /** Takes the ATP entry of libucp's table of message handlers, and libucs's {@code ucs_fatal_error_message}. */
    static void install(SymbolLookup libucp, SymbolLookup libucs) {
        int installed;
        try {
            installed = (int) INSTALL.invokeExact(GuardLibrary.ucxFunction(libucp, "ucp_am_handlers"),
                    GuardLibrary.ucxFunction(libucs, "ucs_fatal_error_message"));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        GuardLibrary.requireTaken(installed, "ATP handler (with its counting proxy)");
    }

    /** ATP messages dropped where UCP asserted that their request was a ready-to-receive. */
    static long atpDropped() {
        return GuardLibrary.counter(ATP_DROPPED);
    }
}
