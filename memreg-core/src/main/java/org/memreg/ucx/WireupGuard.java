package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * memreg's guards over assertions of UCP 1.13's wire-up that a peer can reach ({@code
 * src/main/native/memreg_wireup_guard.c} and {@code memreg_wireup_messages.c}, in {@link
 * GuardLibrary}).
 *
 * <p>A UCP endpoint that failed while its wire-up reply still waited in a transport's pending
 * queue aborted the process ({@code ucp_request.c:684}). Over TCP the reply waits for the peer to
 * acknowledge the connection it goes out on, so a peer that closed that connection and left ended
 * the node. The guard frees such a message, as UCX 1.14 does, and counts it ({@link #freed}).
 *
 * <p>One wire-up message ended a node, from any peer that could send it one (over TCP, anyone
 * without a token): an acknowledgement naming an endpoint that had sent no reply, or carrying an
 * interface's address ({@code wireup.c:781}, {@code :829}), and a pre-request, which only UCP's
 * client-server connections send ({@code wireup.c:475}); endpoint ids were counted, so a guess
 * found one (they are random now, {@link IdGuard}, but a peer knows the one the node gave it). The
 * guard stands in front of UCP's wire-up handler and drops these before UCP reads them ({@link
 * #dropped}), and an endpoint check naming an endpoint id the node never issued: it learns which
 * endpoints await an acknowledgement from UCP's packing of the replies it sends, on any transport.
 */
final class WireupGuard {
    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_wireup_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle INSTALL_MESSAGES = LIBRARY.downcall("memreg_wireup_messages_install",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle WORKER_GONE = LIBRARY.downcall("memreg_wireup_worker_gone",
            FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle FREED = LIBRARY.downcall("memreg_wireup_freed",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle DROPPED = LIBRARY.downcall("memreg_wireup_dropped",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ACKS_PASSED = LIBRARY.downcall("memreg_wireup_acks_passed",
            FunctionDescriptor.of(JAVA_LONG));

    private WireupGuard() {
    }

    /**
     * Hands the guards libucp's own {@code ucp_request_send_state_ff}, {@code
     * ucp_wireup_msg_progress} and {@code ucp_wireup_msg_pack}, and its table of message handlers,
     * whose wire-up entry the guard takes; before libucp makes any worker.
     */
    static void install(SymbolLookup libucp) {
        long stateFf = GuardLibrary.ucxFunction(libucp, "ucp_request_send_state_ff");
        long msgProgress = GuardLibrary.ucxFunction(libucp, "ucp_wireup_msg_progress");
        long msgPack = GuardLibrary.ucxFunction(libucp, "ucp_wireup_msg_pack");
        long handlers = GuardLibrary.ucxFunction(libucp, "ucp_am_handlers");
        GuardLibrary.call(INSTALL, stateFf, msgProgress);
        int installed;
        try {
            installed = (int) INSTALL_MESSAGES.invokeExact(handlers, msgPack, msgProgress);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        GuardLibrary.requireTaken(installed, "wire-up handler");
    }

    /** The worker is about to be destroyed: none of its endpoints awaits an acknowledgement any more. */
    static void workerGone(long worker) {
        GuardLibrary.call(WORKER_GONE, worker);
    }

    /**
     * Wire-up messages dropped before UCP read them: pre-requests, messages shorter than their
     * header, and acknowledgements that carry an address or that no endpoint awaited.
     */
    static long dropped() {
        return GuardLibrary.counter(DROPPED);
    }

    /** Acknowledgements handed on to UCP, each to an endpoint that awaited it. */
    static long acksPassed() {
        return GuardLibrary.counter(ACKS_PASSED);
    }

    /** Wire-up requests and replies freed when their endpoint failed, where UCX 1.13 would have aborted. */
    static long freed() {
        return GuardLibrary.counter(FREED);
    }
}
