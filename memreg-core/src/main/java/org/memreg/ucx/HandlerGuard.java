package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * memreg's guard over assertions of UCP 1.13 that a peer reaches with one message, where UCP asserts
 * before it changes anything ({@code src/main/native/memreg_handler_guard.c}, in {@link
 * GuardLibrary}): the message is dropped, the process lives. A rendezvous ATP naming a request that
 * is not one of the node's ready-to-receive requests (a send in flight; the peer the send went to
 * knows its id) aborted at {@code ucp_request.inl:1101} ({@link #atpDropped}); the transfer the
 * message named does not complete. A software RMA completion (CMPL) naming an endpoint whose flush
 * state is not set up aborted at {@code ucp_ep.inl:157}, and one when the worker awaits none would
 * at {@code ucp_worker.h:418} ({@link #cmplDropped}). The guard stands in front of those two
 * handlers of libucp's table and takes those assertions' calls to {@code ucs_fatal_error_format}
 * back to itself; every other fatal error aborts as before.
 */
final class HandlerGuard {
    private static final int ATP = 0;
    private static final int CMPL = 1;
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_handler_install",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle DROPPED = GuardLibrary.LIBRARY.downcall("memreg_handler_dropped",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

    private HandlerGuard() {
    }

    /** Takes the ATP and CMPL entries of libucp's table of message handlers, and libucs's {@code ucs_fatal_error_message}. */
    static void install(SymbolLookup libucp, SymbolLookup libucs) {
        int installed;
        try {
            installed = (int) INSTALL.invokeExact(GuardLibrary.ucxFunction(libucp, "ucp_am_handlers"),
                    GuardLibrary.ucxFunction(libucs, "ucs_fatal_error_message"));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        GuardLibrary.requireTaken(installed, "ATP handler (with its counting proxy) or CMPL handler");
    }

    /** ATP messages dropped where UCP asserted that their request was a ready-to-receive. */
    static long atpDropped() {
        return GuardLibrary.counter(DROPPED, ATP);
    }

    /** CMPL messages dropped where UCP asserted on the endpoint's flush state or the worker's count of them. */
    static long cmplDropped() {
        return GuardLibrary.counter(DROPPED, CMPL);
    }
}
