package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The one place that creates downcall handles into OpenUCX ({@code libucp.so.0},
 * {@code libucs.so.0}), the way {@code org.memreg.linux.Native} is for libc.
 *
 * <p>The libraries are looked up once, by soname, in the global arena (they are never unloaded).
 * When they are absent (Debian package {@code libucx0} not installed) {@link #AVAILABLE} is false,
 * {@link #unavailableReason()} says what to install, and every handle is null: callers go
 * through {@link #require()} first. Pointers travel as {@code JAVA_LONG} like in the libc
 * bindings; {@code ucs_status_t} is one signed byte (see below); {@code ucs_status_ptr_t} a {@code long}.
 */
final class UcxNative {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup UCP;
    private static final String UNAVAILABLE;
    static final boolean AVAILABLE;

    static {
        SymbolLookup lookup = null;
        String reason = null;
        try {
            keepJvmSignals();
            reason = GuardLibrary.unavailableReason(); // before libucp: its calls must bind to the guards
            if (reason == null) {
                SymbolLookup ucp = load("libucp.so.0");
                SymbolLookup ucs = load("libucs.so.0");
                AddressGuard.install(ucp);
                WireupGuard.install(ucp);
                DestroyGuard.install(ucp);
                ExposedMemory.install(ucp);
                HandlerGuard.install(ucp, ucs);
                IdGuard.install(ucs, ucp);
                TcpGuard.install(ucs);
                lookup = ucs.or(ucp);
            } else {
                reason = "memreg's guards over UCX are not in place (" + reason + ")";
            }
        } catch (IllegalArgumentException e) {
            reason = "OpenUCX is not installed (" + e.getMessage() + "); install the Debian package libucx0"
                    + " (bin/memreg and bin/test do so when run as root)";
        }
        UCP = lookup;
        UNAVAILABLE = reason;
        AVAILABLE = lookup != null;
    }

    /*
     * ucs_status_t is a packed enum: one signed byte, returned in the low byte of the register,
     * the rest undefined. Read as an int, UCS_ERR_MESSAGE_TRUNCATED (-9) came back as 247, and no
     * error compared equal to its constant. So every status is a JAVA_BYTE here.
     */
    private static final FunctionDescriptor STATUS_L = FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG);
    private static final FunctionDescriptor STATUS_LL = FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor STATUS_LLL =
            FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG, JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor VOID_L = FunctionDescriptor.ofVoid(JAVA_LONG);
    private static final FunctionDescriptor VOID_LL = FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG);
    private static final FunctionDescriptor PTR_LL = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG);

    static final MethodHandle STATUS_STRING = handle("ucs_status_string", FunctionDescriptor.of(ADDRESS, JAVA_BYTE));
    static final MethodHandle CONFIG_READ = handle("ucp_config_read", STATUS_LLL);
    static final MethodHandle CONFIG_MODIFY = handle("ucp_config_modify", STATUS_LLL);
    static final MethodHandle CONFIG_RELEASE = handle("ucp_config_release", VOID_L);
    static final MethodHandle GET_VERSION = handle("ucp_get_version", FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG,
            JAVA_LONG));
    static final MethodHandle INIT_VERSION = handle("ucp_init_version",
            FunctionDescriptor.of(JAVA_BYTE, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle CLEANUP = handle("ucp_cleanup", VOID_L);
    static final MethodHandle WORKER_CREATE = handle("ucp_worker_create", STATUS_LLL);
    static final MethodHandle WORKER_DESTROY = handle("ucp_worker_destroy", VOID_L);
    static final MethodHandle WORKER_PROGRESS = handle("ucp_worker_progress", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    static final MethodHandle WORKER_GET_ADDRESS = handle("ucp_worker_get_address", STATUS_LLL);
    static final MethodHandle WORKER_RELEASE_ADDRESS = handle("ucp_worker_release_address", VOID_LL);
    static final MethodHandle WORKER_GET_EFD = handle("ucp_worker_get_efd", STATUS_LL);
    static final MethodHandle WORKER_ARM = handle("ucp_worker_arm", STATUS_L);
    static final MethodHandle WORKER_SIGNAL = handle("ucp_worker_signal", STATUS_L);
    static final MethodHandle WORKER_FLUSH_NBX = handle("ucp_worker_flush_nbx", PTR_LL);
    static final MethodHandle EP_CREATE = handle("ucp_ep_create", STATUS_LLL);
    static final MethodHandle EP_CLOSE_NBX = handle("ucp_ep_close_nbx", PTR_LL);
    static final MethodHandle EP_FLUSH_NBX = handle("ucp_ep_flush_nbx", PTR_LL);
    static final MethodHandle TAG_SEND_NBX = handle("ucp_tag_send_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    /** {@link #TAG_SEND_NBX} given the buffer as a segment: FFM keeps its arena from closing during the call. */
    static final MethodHandle TAG_SEND_NBX_SEGMENT = handle("ucp_tag_send_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle TAG_RECV_NBX = handle("ucp_tag_recv_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle TAG_PROBE_NB = handle("ucp_tag_probe_nb",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG));
    static final MethodHandle TAG_MSG_RECV_NBX = handle("ucp_tag_msg_recv_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle TAG_RECV_REQUEST_TEST = leafHandle("ucp_tag_recv_request_test", STATUS_LL);
    static final MethodHandle REQUEST_CHECK_STATUS = leafHandle("ucp_request_check_status", STATUS_L);
    static final MethodHandle REQUEST_CANCEL = handle("ucp_request_cancel", VOID_LL);
    static final MethodHandle REQUEST_FREE = leafHandle("ucp_request_free", VOID_L);
    static final MethodHandle MEM_MAP = handle("ucp_mem_map", STATUS_LLL);
    static final MethodHandle MEM_UNMAP = handle("ucp_mem_unmap", STATUS_LL);
    static final MethodHandle MEM_QUERY = handle("ucp_mem_query", STATUS_LL);
    static final MethodHandle RKEY_PACK = handle("ucp_rkey_pack",
            FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle RKEY_BUFFER_RELEASE = handle("ucp_rkey_buffer_release", VOID_L);
    static final MethodHandle EP_RKEY_UNPACK = handle("ucp_ep_rkey_unpack", STATUS_LLL);
    static final MethodHandle RKEY_DESTROY = handle("ucp_rkey_destroy", VOID_L);
    static final MethodHandle PUT_NBX = handle("ucp_put_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle GET_NBX = handle("ucp_get_nbx",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));

    private UcxNative() {
    }

    /** Throws {@link UcxUnavailableException} unless the libraries were found. */
    static void require() {
        if (!AVAILABLE) {
            throw new UcxUnavailableException(UNAVAILABLE);
        }
    }

    /** Why UCX cannot be used, or empty when it can. */
    static Optional<String> unavailableReason() {
        return Optional.ofNullable(UNAVAILABLE);
    }

    /**
     * UCX's error handler catches SIGSEGV, SIGBUS, SIGILL and SIGFPE by default (UCX_ERROR_SIGNALS)
     * and aborts the process, but the JVM raises SIGSEGV on purpose (implicit null checks,
     * safepoint polls) and expects its own handler to see it. libucs reads the variable in its
     * library constructor, so it is cleared here, before the library is loaded.
     *
     * <p>UCX's memory hooks (UCM) stay on: memreg's hook monitor ({@code HookMonitor}) hears of
     * unmaps through them, and libucs installs them process-wide when it loads, so whoever loads
     * it first decides for the whole process. What stays off, unless the user set it: UCM's
     * malloc hooks and malloc relocations ({@code UCX_MEM_MALLOC_HOOKS}, {@code
     * UCX_MEM_MALLOC_RELOC}; they have deadlocked JVMs, UCX issues #4543 and #1047), and UCP's own
     * registration cache ({@code UCX_RCACHE_ENABLE}), which would otherwise listen to the same
     * events and cache what memreg's cache already caches.
     */
    @SuppressWarnings("restricted")
    private static void keepJvmSignals() {
        MethodHandle setenv = LINKER.downcallHandle(LINKER.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) setenv.invokeExact(arena.allocateFrom("UCX_ERROR_SIGNALS"), arena.allocateFrom(""), 1);
            ignored = (int) setenv.invokeExact(arena.allocateFrom("UCX_MEM_MALLOC_HOOKS"), arena.allocateFrom("no"), 0);
            ignored = (int) setenv.invokeExact(arena.allocateFrom("UCX_MEM_MALLOC_RELOC"), arena.allocateFrom("no"), 0);
            ignored = (int) setenv.invokeExact(arena.allocateFrom("UCX_RCACHE_ENABLE"), arena.allocateFrom("no"), 0);
        } catch (Throwable t) {
            throw new IllegalStateException("setenv failed", t);
        }
    }

    /**
     * Loads a library of ours that is linked against libucs/libucm, after the environment above
     * is in place and libucs is loaded (so its constructor read that environment first).
     *
     * @throws UcxUnavailableException when OpenUCX is not installed
     * @throws IllegalArgumentException when the library cannot be loaded
     */
    static SymbolLookup loadLinked(Path library) {
        require();
        return loadPath(library);
    }

    @SuppressWarnings("restricted") // our own library, built from src/main/native
    private static SymbolLookup loadPath(Path library) {
        return SymbolLookup.libraryLookup(library, Arena.global());
    }

    @SuppressWarnings("restricted") // loading a library by soname is the point of this class
    private static SymbolLookup load(String soname) {
        return SymbolLookup.libraryLookup(soname, Arena.global());
    }

    @SuppressWarnings("restricted") // the descriptors follow ucp.h of UCX 1.13 (see UcxLayoutTest)
    private static MethodHandle handle(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        if (UCP == null) {
            return null;
        }
        MemorySegment symbol = UCP.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("OpenUCX has no function " + name
                        + " (memreg binds UCX 1.13's API)"));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /**
     * A downcall handle for a function that only reads or updates a request's state: it never
     * calls back into Java and never blocks, so it may skip the thread-state transition
     * ({@link Linker.Option#critical}). The progress loop calls these for every request it
     * tests. (On this machine the 8-byte latency did not change measurably with it.)
     */
    private static MethodHandle leafHandle(String name, FunctionDescriptor descriptor) {
        return handle(name, descriptor, Linker.Option.critical(false));
    }

    /** An upcall stub for {@code target} with {@code descriptor}, alive for as long as {@code arena}. */
    @SuppressWarnings("restricted")
    static MemorySegment upcall(MethodHandle target, FunctionDescriptor descriptor, Arena arena) {
        return LINKER.upcallStub(target, descriptor, arena);
    }
}
