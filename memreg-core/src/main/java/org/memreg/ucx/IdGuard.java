package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * memreg's guard over the ids UCX 1.13 hands peers ({@code src/main/native/memreg_id_guard.c}, in
 * {@link GuardLibrary}): UCP names a worker's endpoints and requests to its peers by ids it counted
 * from zero in each worker, as UCT's TCP transport counts the ids of its endpoints, and a message
 * naming one acts on it. A stranger over TCP who sent one forged rendezvous message per small id
 * completed a send in flight as delivered while its receiver never got the data; one forged
 * "endpoint removed" per small id failed an endpoint. The guard takes libucs's {@code
 * ucs_ptr_map_init} and {@code ucs_ptr_safe_hash_put}: every map's count starts at a random 64-bit
 * value ({@link Log#STARTS}), and every endpoint id is drawn at random ({@link Log#ENDPOINTS}).
 * Request ids UCP makes inline, so the guard sets a worker's request count afresh where the
 * requests that name themselves to peers begin ({@link Log#SHUFFLES}): a rendezvous send and receive
 * (libucp's {@code ucp_tag_send_start_rndv} and {@code ucp_rndv_receive}, which it takes) and a
 * get ({@link #shuffle}, before {@code ucp_get_nbx}). Which map is a worker's it learns as memreg
 * makes the worker ({@link #workerMade}).
 */
final class IdGuard {
    private static final MethodHandle INSTALL = GuardLibrary.LIBRARY.downcall("memreg_id_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LOGGED = GuardLibrary.LIBRARY.downcall("memreg_id_logged",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle LOG_ENTRY = GuardLibrary.LIBRARY.downcall("memreg_id_log_entry",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG));
    private static final MethodHandle WORKER = GuardLibrary.LIBRARY.downcall("memreg_id_worker",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle SHUFFLE = GuardLibrary.LIBRARY.downcall("memreg_id_shuffle",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));

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
        int result = GuardLibrary.answer(WORKER, worker);
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
        int result = GuardLibrary.answer(SHUFFLE, worker);
        if (result < 0) {
            throw new IllegalStateException("the kernel gave no random bytes for UCX's next request id");
        }
        return result == 0;
    }

    /**
     * What the guard noted, the last 16 of each kind by number from 0 in this process: for tests that
     * play a peer that saw an id (code in the process may read UCX's memory anyway).
     */
    enum Log {
        /** Where each map's count started: its first id is this plus 3. */
        STARTS,
        /** Each endpoint id drawn. */
        ENDPOINTS,
        /** Each request count set afresh: the next request id is this plus 3. */
        SHUFFLES,
        /** Each rendezvous send's id, which its RTS names to the receiver. */
        SENDS;

        /** How many were noted. */
        long count() {
            return GuardLibrary.counter(LOGGED, ordinal());
        }

        /** The values from number {@code first} on that are among the last 16. */
        List<Long> since(long first) {
            List<Long> values = new ArrayList<>();
            long count = count();
            for (long n = Math.max(first, count - 16); n < count; n++) {
                values.add(get(n));
            }
            return values;
        }

        /** Value number {@code n}; 0 when it is not among the last 16. */
        long get(long n) {
            try {
                return (long) LOG_ENTRY.invokeExact(ordinal(), n);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }
    }
}
