package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The upcall UCX makes into memreg: an endpoint's error. It only queues what it was given on the
 * worker named by {@code arg} (a worker id, not a pointer) and returns; the worker's owner acts
 * on it after {@code ucp_worker_progress} returns. It never throws: an exception escaping an
 * upcall kills the JVM.
 */
final class UcxCallbacks {
    private static final Map<Long, UcxWorker> WORKERS = new ConcurrentHashMap<>();
    static final MemorySegment ERR_HANDLER;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ERR_HANDLER = UcxNative.upcall(lookup.findStatic(UcxCallbacks.class, "onEndpointError",
                            MethodType.methodType(void.class, long.class, long.class, byte.class)),
                    FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG, JAVA_BYTE), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private UcxCallbacks() {
    }

    static void register(UcxWorker worker) {
        WORKERS.put(worker.id(), worker);
    }

    static void unregister(UcxWorker worker) {
        WORKERS.remove(worker.id());
    }

    /** {@code ucp_err_handler_cb_t(arg, ep, status)}; {@code ucs_status_t} is one byte ({@link UcxNative}). */
    private static void onEndpointError(long arg, long ep, byte status) {
        try {
            UcxWorker worker = WORKERS.get(arg);
            if (worker != null) {
                worker.endpointErrors.add(new long[] {ep, status});
            }
        } catch (Throwable ignored) {
            // never throw out of an upcall
        }
    }
}
