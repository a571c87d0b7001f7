package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * memreg's mend of a UCP 1.13 assertion that indirect ids reach ({@code
 * src/main/native/memreg_destroy_guard.c}, in {@link GuardLibrary}): a worker destroyed while an
 * endpoint still tracked requests by id (a rendezvous whose peer had left, in error mode NONE)
 * aborted the process ({@code ucp_ep.c:437}). {@link UcxContext} has UCP issue indirect ids for
 * every endpoint, so that {@link TcpGuard} can refuse a forged direct one; the guard purges the
 * requests an endpoint tracks as the worker destroys it, as UCP does when a PEER-mode endpoint
 * fails (they complete with {@code UCS_ERR_CANCELED}).
 */
final class DestroyGuard {
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_destroy_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));

    private DestroyGuard() {
    }

    /** Hands the guard libucp's own {@code ucp_ep_disconnected} and {@code ucp_ep_reqs_purge}. */
    static void install(SymbolLookup libucp) {
        GuardLibrary.call(INSTALL, GuardLibrary.ucxFunction(libucp, "ucp_ep_disconnected"),
                GuardLibrary.ucxFunction(libucp, "ucp_ep_reqs_purge"));
    }
}
