package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
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
 * Request ids UCP makes inline, so the guard sets a worker's request count afresh where the
 * requests that name themselves to peers begin ({@link #shuffles}): a rendezvous send and receive
 * (libucp's {@code ucp_tag_send_start_rndv} and {@code ucp_rndv_receive}, which it takes) and a
 * get ({@link #shuffle}, before {@code ucp_get_nbx}). Which map is a worker's it learns as memreg
 * makes the worker ({@link #workerMade}).
 */
final class IdGuard {
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_id_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle WORKER = GuardLibrary.LIBRARY.downcall("memreg_id_worker",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle SHUFFLE = GuardLibrary.LIBRARY.downcall("memreg_id_shuffle",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle SHUFFLES = GuardLibrary.LIBRARY.downcall("memreg_id_shuffles",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle SHUFFLED = GuardLibrary.LIBRARY.downcall("memreg_id_shuffled",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle SENDS = GuardLibrary.LIBRARY.downcall("memreg_id_sends",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle SEND = GuardLibrary.LIBRARY.downcall("memreg_id_send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
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

    /**
     * Hands the guard libucs's own {@code ucs_ptr_map_init}, {@code ucs_ptr_safe_hash_put} and
     * {@code ucs_ptr_map_destroy}, and libucp's {@code ucp_tag_send_start_rndv} and {@code
     * ucp_rndv_receive}.
     */
    static void install(SymbolLookup libucs, SymbolLookup libucp) {
        try {
            INSTALL.invokeExact(GuardLibrary.ucxFunction(libucs, "ucs_ptr_map_init"),
                    GuardLibrary.ucxFunction(libucs, "ucs_ptr_safe_hash_put"),
                    GuardLibrary.ucxFunction(libucs, "ucs_ptr_map_destroy"),
                    GuardLibrary.ucxFunction(libucp, "ucp_tag_send_start_rndv"),
                    GuardLibrary.ucxFunction(libucp, "ucp_rndv_receive"));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * memreg made {@code worker} on this thread: the guard notes its request map, the one UCP set up
     * inside it that takes ids from one thread.
     *
     * @throws IllegalStateException when there is none (not UCX 1.13's layout) or no room to note it
     */
    static void workerMade(long worker) {
        int result;
        try {
            result = (int) WORKER.invokeExact(worker);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result != 0) {
            throw new IllegalStateException(result == -1
                    ? "memreg cannot find UCP's request ids in the worker it made: not UCX 1.13's layout"
                    : "memreg's guard over UCX's ids knows as many workers as it can (1024)");
        }
    }

    /**
     * The next request id {@code worker} makes is random (before a request that names itself to a
     * peer): true, or false when the guard does not know the worker (not made, or destroyed).
     */
    static boolean shuffle(long worker) {
        int result;
        try {
            result = (int) SHUFFLE.invokeExact(worker);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result < 0) {
            throw new IllegalStateException("the kernel gave no random bytes for UCX's next request id");
        }
        return result == 0;
    }

    /** Request counts the guard set afresh, in this process. */
    static long shuffles() {
        return GuardLibrary.counter(SHUFFLES);
    }

    /** Where shuffle number {@code n} set its count (the next request id is this plus 3); 0 when not among the last 16. */
    static long shuffled(long n) {
        return numbered(SHUFFLED, n);
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

    /** Rendezvous sends begun in this process. */
    static long sends() {
        return GuardLibrary.counter(SENDS);
    }

    /** The id rendezvous send number {@code n} was given (its RTS names it); 0 when not among the last 16. For tests. */
    static long send(long n) {
        return numbered(SEND, n);
    }

    private static long numbered(MethodHandle handle, long n) {
        try {
            return (long) handle.invokeExact(n);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
