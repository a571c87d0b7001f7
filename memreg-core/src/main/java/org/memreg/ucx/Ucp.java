package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Thin static binding of the libucp 1.13 calls memreg needs: one Java method per C function,
 * handles as {@code long}, statuses as {@code int}, parameter structs as segments laid out by
 * {@link UcxLayouts}. Set-up calls throw {@link UcxException}; hot-path calls (send, receive,
 * put, get, progress, request status) return the raw {@code ucs_status_ptr_t} or status.
 *
 * <p>Thread safety is UCX's: a worker and everything made from it must be used by one thread at
 * a time (memreg creates workers in {@code UCS_THREAD_MODE_SERIALIZED} and locks around them);
 * the context is created with {@code mt_workers_shared} so that {@code ucp_mem_map} may be called
 * from any thread.
 */
public final class Ucp {
    /** The API version memreg binds ({@code ucp_init} is a header inline; we call {@code ucp_init_version}). */
    public static final int API_MAJOR = 1;
    /** Minor API version. */
    public static final int API_MINOR = 13;

    public static final int OK = 0;
    public static final int INPROGRESS = 1;
    public static final int ERR_NO_MESSAGE = -1;
    public static final int ERR_NO_RESOURCE = -2;
    public static final int ERR_IO_ERROR = -3;
    public static final int ERR_NO_MEMORY = -4;
    public static final int ERR_INVALID_PARAM = -5;
    public static final int ERR_UNREACHABLE = -6;
    public static final int ERR_MESSAGE_TRUNCATED = -9;
    /** {@code UCS_ERR_BUSY}: {@code ucp_worker_arm} found events pending. */
    public static final int ERR_BUSY = -15;
    public static final int ERR_CANCELED = -16;
    public static final int ERR_OUT_OF_RANGE = -19;
    public static final int ERR_TIMED_OUT = -20;
    public static final int ERR_EXCEEDS_LIMIT = -21;
    public static final int ERR_REJECTED = -23;
    public static final int ERR_NOT_CONNECTED = -24;
    public static final int ERR_CONNECTION_RESET = -25;
    public static final int ERR_ENDPOINT_TIMEOUT = -80;

    public static final long FEATURE_TAG = 1L;
    public static final long FEATURE_RMA = 1L << 1;
    public static final long FEATURE_WAKEUP = 1L << 4;

    public static final int THREAD_MODE_SINGLE = 0;
    public static final int THREAD_MODE_SERIALIZED = 1;
    public static final int THREAD_MODE_MULTI = 2;

    public static final int ERR_HANDLING_MODE_NONE = 0;
    public static final int ERR_HANDLING_MODE_PEER = 1;

    public static final int MEM_MAP_NONBLOCK = 1;
    public static final int MEM_MAP_ALLOCATE = 1 << 1;
    public static final int PROT_LOCAL_READ = 1;
    public static final int PROT_LOCAL_WRITE = 1 << 1;
    public static final int PROT_REMOTE_READ = 1 << 8;
    public static final int PROT_REMOTE_WRITE = 1 << 9;

    public static final int EP_CLOSE_FLAG_FORCE = 1;

    static final long PARAM_FIELD_FEATURES = 1L;
    static final long PARAM_FIELD_MT_WORKERS_SHARED = 1L << 5;
    static final long PARAM_FIELD_NAME = 1L << 8;
    static final long WORKER_PARAM_FIELD_THREAD_MODE = 1L;
    static final long EP_PARAM_FIELD_REMOTE_ADDRESS = 1L;
    static final long EP_PARAM_FIELD_ERR_HANDLING_MODE = 1L << 1;
    static final long EP_PARAM_FIELD_ERR_HANDLER = 1L << 2;
    static final long MEM_MAP_PARAM_FIELD_ADDRESS = 1L;
    static final long MEM_MAP_PARAM_FIELD_LENGTH = 1L << 1;
    static final long MEM_MAP_PARAM_FIELD_FLAGS = 1L << 2;
    static final long MEM_MAP_PARAM_FIELD_PROT = 1L << 3;
    static final long MEM_ATTR_FIELD_ADDRESS = 1L;
    static final long MEM_ATTR_FIELD_LENGTH = 1L << 1;

    /** {@code ucp_request_param_t.op_attr_mask} bits. */
    public static final int OP_ATTR_FIELD_FLAGS = 1 << 4;
    public static final int OP_ATTR_FIELD_RECV_INFO = 1 << 7;
    public static final int OP_ATTR_FIELD_MEMH = 1 << 8;
    public static final int OP_ATTR_FLAG_NO_IMM_CMPL = 1 << 16;
    public static final int OP_ATTR_FLAG_FORCE_IMM_CMPL = 1 << 18;

    /** Offsets in {@code ucp_request_param_t}, for filling it on hot paths. */
    public static final long REQUEST_PARAM_BYTES = UcxLayouts.REQUEST_PARAM.byteSize();
    static final long RP_OP_ATTR_MASK = UcxLayouts.offset(UcxLayouts.REQUEST_PARAM, "op_attr_mask");
    static final long RP_FLAGS = UcxLayouts.offset(UcxLayouts.REQUEST_PARAM, "flags");
    static final long RP_RECV_INFO = UcxLayouts.offset(UcxLayouts.REQUEST_PARAM, "recv_info");
    static final long RP_MEMH = UcxLayouts.offset(UcxLayouts.REQUEST_PARAM, "memh");
    /** Size of {@code ucp_tag_recv_info_t}: sender tag at 0, length at 8. */
    public static final long TAG_RECV_INFO_BYTES = UcxLayouts.TAG_RECV_INFO.byteSize();

    private Ucp() {
    }

    /** True when libucp could be loaded. */
    public static boolean isAvailable() {
        return UcxNative.AVAILABLE;
    }

    /** Why UCX cannot be used here (what to install), or empty. */
    public static Optional<String> unavailableReason() {
        return UcxNative.unavailableReason();
    }

    /** The library's version as "major.minor.release". */
    public static String version() {
        UcxNative.require();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_INT, 3);
            UcxNative.GET_VERSION.invokeExact(v.address(), v.address() + 4, v.address() + 8);
            return v.getAtIndex(JAVA_INT, 0) + "." + v.getAtIndex(JAVA_INT, 1) + "." + v.getAtIndex(JAVA_INT, 2);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** UCX's text for {@code status}, such as "Destination is unreachable". */
    public static String statusString(int status) {
        if (!UcxNative.AVAILABLE) {
            return "status " + status;
        }
        try {
            MemorySegment text = (MemorySegment) UcxNative.STATUS_STRING.invokeExact((byte) status);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "status " + status;
        }
    }

    // ---- ucs_status_ptr_t ----

    /** True when a returned status pointer is an error code (UCS_PTR_IS_ERR). */
    public static boolean isError(long statusPtr) {
        return statusPtr < 0 && statusPtr >= -100;
    }

    /** True when a returned status pointer is a request still to be completed (UCS_PTR_IS_PTR). */
    public static boolean isRequest(long statusPtr) {
        return statusPtr != 0 && !isError(statusPtr);
    }

    /** The status a status pointer stands for: OK, INPROGRESS (a request) or an error. */
    public static int status(long statusPtr) {
        return statusPtr == 0 ? OK : isError(statusPtr) ? (int) statusPtr : INPROGRESS;
    }

    // ---- raw calls ----

    static int configRead(long prefix, long filename, long configOut) {
        try {
            return (byte) UcxNative.CONFIG_READ.invokeExact(prefix, filename, configOut);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int configModify(long config, long name, long value) {
        try {
            return (byte) UcxNative.CONFIG_MODIFY.invokeExact(config, name, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void configRelease(long config) {
        voidCall(UcxNative.CONFIG_RELEASE, config);
    }

    static int initVersion(long params, long config, long contextOut) {
        try {
            return (byte) UcxNative.INIT_VERSION.invokeExact(API_MAJOR, API_MINOR, params, config, contextOut);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void cleanup(long context) {
        voidCall(UcxNative.CLEANUP, context);
    }

    static int workerCreate(long context, long params, long workerOut) {
        return status3(UcxNative.WORKER_CREATE, context, params, workerOut);
    }

    static void workerDestroy(long worker) {
        voidCall(UcxNative.WORKER_DESTROY, worker);
    }

    /** {@code ucp_worker_progress}: the number of events progressed. */
    public static int workerProgress(long worker) {
        try {
            return (int) UcxNative.WORKER_PROGRESS.invokeExact(worker);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int workerGetAddress(long worker, long addressOut, long lengthOut) {
        return status3(UcxNative.WORKER_GET_ADDRESS, worker, addressOut, lengthOut);
    }

    static void workerReleaseAddress(long worker, long address) {
        try {
            UcxNative.WORKER_RELEASE_ADDRESS.invokeExact(worker, address);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int workerGetEfd(long worker, long fdOut) {
        return status2(UcxNative.WORKER_GET_EFD, worker, fdOut);
    }

    static int workerArm(long worker) {
        return status1(UcxNative.WORKER_ARM, worker);
    }

    static int workerSignal(long worker) {
        return status1(UcxNative.WORKER_SIGNAL, worker);
    }

    static long workerFlushNbx(long worker, long param) {
        return ptr2(UcxNative.WORKER_FLUSH_NBX, worker, param);
    }

    static int epCreate(long worker, long params, long epOut) {
        return status3(UcxNative.EP_CREATE, worker, params, epOut);
    }

    static long epCloseNbx(long ep, long param) {
        return ptr2(UcxNative.EP_CLOSE_NBX, ep, param);
    }

    static long epFlushNbx(long ep, long param) {
        return ptr2(UcxNative.EP_FLUSH_NBX, ep, param);
    }

    static long tagSendNbx(long ep, MemorySegment buffer, long tag, long param) {
        try {
            return (long) UcxNative.TAG_SEND_NBX_SEGMENT.invokeExact(ep, buffer, buffer.byteSize(), tag, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long tagSendNbx(long ep, long buffer, long count, long tag, long param) {
        try {
            return (long) UcxNative.TAG_SEND_NBX.invokeExact(ep, buffer, count, tag, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long tagRecvNbx(long worker, long buffer, long count, long tag, long mask, long param) {
        try {
            return (long) UcxNative.TAG_RECV_NBX.invokeExact(worker, buffer, count, tag, mask, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long tagProbeNb(long worker, long tag, long mask, int remove, long info) {
        try {
            return (long) UcxNative.TAG_PROBE_NB.invokeExact(worker, tag, mask, remove, info);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long tagMsgRecvNbx(long worker, long buffer, long count, long message, long param) {
        try {
            return (long) UcxNative.TAG_MSG_RECV_NBX.invokeExact(worker, buffer, count, message, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int tagRecvRequestTest(long request, long info) {
        return status2(UcxNative.TAG_RECV_REQUEST_TEST, request, info);
    }

    /** {@code ucp_request_check_status}: INPROGRESS, OK or the request's error. */
    public static int requestCheckStatus(long request) {
        return status1(UcxNative.REQUEST_CHECK_STATUS, request);
    }

    static void requestCancel(long worker, long request) {
        try {
            UcxNative.REQUEST_CANCEL.invokeExact(worker, request);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ucp_request_free}. */
    public static void requestFree(long request) {
        voidCall(UcxNative.REQUEST_FREE, request);
    }

    static int memMap(long context, long params, long memhOut) {
        return status3(UcxNative.MEM_MAP, context, params, memhOut);
    }

    static int memUnmap(long context, long memh) {
        return status2(UcxNative.MEM_UNMAP, context, memh);
    }

    static int memQuery(long memh, long attr) {
        return status2(UcxNative.MEM_QUERY, memh, attr);
    }

    static int rkeyPack(long context, long memh, long bufferOut, long sizeOut) {
        try {
            return (byte) UcxNative.RKEY_PACK.invokeExact(context, memh, bufferOut, sizeOut);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void rkeyBufferRelease(long buffer) {
        voidCall(UcxNative.RKEY_BUFFER_RELEASE, buffer);
    }

    static int epRkeyUnpack(long ep, long buffer, long rkeyOut) {
        return status3(UcxNative.EP_RKEY_UNPACK, ep, buffer, rkeyOut);
    }

    static void rkeyDestroy(long rkey) {
        voidCall(UcxNative.RKEY_DESTROY, rkey);
    }

    static long putNbx(long ep, long buffer, long count, long remoteAddress, long rkey, long param) {
        try {
            return (long) UcxNative.PUT_NBX.invokeExact(ep, buffer, count, remoteAddress, rkey, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long getNbx(long ep, long buffer, long count, long remoteAddress, long rkey, long param) {
        try {
            return (long) UcxNative.GET_NBX.invokeExact(ep, buffer, count, remoteAddress, rkey, param);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Throws a {@link UcxException} for {@code function} unless {@code status} is OK. */
    static void check(String function, int status) {
        if (status != OK) {
            throw new UcxException(function, status, null);
        }
    }

    /** The long stored at {@code address} (an out-parameter). */
    static long readLong(MemorySegment out) {
        return out.get(JAVA_LONG, 0);
    }

    private static int status1(MethodHandle handle, long a) {
        try {
            return (byte) handle.invokeExact(a); // sign-extended: a ucs_status_t is one byte
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int status2(MethodHandle handle, long a, long b) {
        try {
            return (byte) handle.invokeExact(a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int status3(MethodHandle handle, long a, long b, long c) {
        try {
            return (byte) handle.invokeExact(a, b, c);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static long ptr2(MethodHandle handle, long a, long b) {
        try {
            return (long) handle.invokeExact(a, b);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void voidCall(MethodHandle handle, long a) {
        try {
            handle.invokeExact(a);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("UCX downcall failed", t);
    }
}
