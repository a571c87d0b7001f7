package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * memreg's guard over the ids UCX 1.13 hands peers ({@code src/main/native/memreg_id_guard.c}, in
 * {@link GuardLibrary}): UCP names a worker's endpoints and requests to its peers by ids it counted
 * from zero in each worker, as UCT's TCP transport counts the ids of its endpoints, and a message
 * naming one acts on it. A stranger over TCP who sent one forged rendezvous message per small id
 * completed a send in flight as delivered while its receiver never got the data; one forged
 * "endpoint removed" per small id failed an endpoint. The guard takes libucs's {@code
 * ucs_ptr_map_init} and {@code ucs_ptr_safe_hash_put}: every map's count starts at a random 64-bit
 * value ({@link #mapsStarted}), and every endpoint id is drawn at random ({@link #endpoints}).
 * Request ids still follow one another from their random start, so a peer that saw one (a
 * rendezvous the worker sent it) can guess its neighbours.
 */
final class IdGuard {
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_id_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MAPS_STARTED = GuardLibrary.LIBRARY.downcall("memreg_id_maps_started",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle START = GuardLibrary.LIBRARY.downcall("memreg_id_start",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle ENDPOINTS = GuardLibrary.LIBRARY.downcall("memreg_id_endpoints",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ENDPOINT = GuardLibrary.LIBRARY.downcall("memreg_id_endpoint",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));

    private IdGuard() {
    }

    /** Hands the guard libucs's own {@code ucs_ptr_map_init} and {@code ucs_ptr_safe_hash_put}. */
    static void install(SymbolLookup libucs) {
        GuardLibrary.call(INSTALL, GuardLibrary.ucxFunction(libucs, "ucs_ptr_map_init"),
                GuardLibrary.ucxFunction(libucs, "ucs_ptr_safe_hash_put"));
    }

    /** UCX's maps of ids whose count the guard started at random, in this process. */
    static long mapsStarted() {
        return GuardLibrary.counter(MAPS_STARTED);
    }

    /**
     * Where map number {@code n} of this process (from 0, in the order UCX set them up) starts
     * counting: its first id is this plus 3; 0 when {@code n} is not among the last 16. For tests
     * that play a peer that saw an id.
     */
    static long start(long n) {
        return numbered(START, n);
    }

    /** Endpoint ids UCP drew at random, in this process. */
    static long endpoints() {
        return GuardLibrary.counter(ENDPOINTS);
    }

    /** Endpoint id number {@code n} of this process (from 0); 0 when not among the last 16. For tests. */
    static long endpoint(long n) {
        return numbered(ENDPOINT, n);
    }

    private static long numbered(MethodHandle handle, long n) {
        try {
            return (long) handle.invokeExact(n);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
