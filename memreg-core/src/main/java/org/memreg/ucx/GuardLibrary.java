package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import org.memreg.util.NativeResource;

/**
 * memreg's guards over UCX ({@code src/main/native/memreg_address_guard.c}, {@code
 * memreg_tcp_guard.c} with {@code memreg_tcp_frames.c}, {@code memreg_exposed.c} and {@code
 * memreg_receive_guard.c}, {@code memreg_wireup_guard.c} with {@code memreg_wireup_messages.c},
 * {@code memreg_destroy_guard.c}, {@code memreg_handler_guard.c} and {@code memreg_id_guard.c},
 * built into this package as {@value #RESOURCE}): {@link AddressGuard}, {@link TcpGuard} with
 * {@link ExposedMemory}, {@link WireupGuard}, {@link DestroyGuard}, {@link HandlerGuard} and
 * {@link IdGuard}. The library defines functions that libucp and libuct call through their PLT or
 * GOT ({@code ucp_address_unpack}, libucs's socket calls, {@code ucp_request_send_state_ff}, {@code
 * ucp_ep_disconnected}, {@code ucp_request_memory_reg} and {@code _dereg}, {@code
 * ucp_wireup_msg_pack}, {@code ucs_fatal_error_format}, {@code ucs_ptr_map_init}, {@code
 * ucs_ptr_safe_hash_put}, {@code ucs_ptr_map_destroy}, {@code ucp_tag_send_start_rndv} and {@code
 * ucp_rndv_receive}), so it is loaded into the process's global scope before libucp: their calls
 * then reach the guards, which hand them on to UCX's own. Two guards take entries of libucp's
 * table of message handlers as well ({@link WireupGuard}, {@link HandlerGuard}).
 */
final class GuardLibrary {
    static final String RESOURCE = "libmemreg-ucx-guard.so";
    private static final int RTLD_NOW = 0x2;
    private static final int RTLD_NOLOAD = 0x4;
    private static final int RTLD_GLOBAL = 0x100;
    /** The UCX libraries whose calls the guards take (libucs's own are handed over, not bound). */
    private static final String[] UCX_CALLERS = {"libucp.so.0", "libuct.so.0"};
    private static final MethodHandle DLOPEN = libc("dlopen", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
    private static final MethodHandle DLCLOSE = libc("dlclose", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));

    static final NativeResource LIBRARY = NativeResource.load(GuardLibrary.class, RESOURCE, GuardLibrary::loadGlobal);

    private GuardLibrary() {
    }

    /**
     * Why the guards cannot stand in front of UCX, or null when they can: they must load, and
     * before libucp and libuct, whose calls bind to whatever the process's global scope offered
     * when they were first made (another UCX binding that loaded UCX first, JUCX for one, would
     * leave memreg unguarded without a word).
     */
    static String unavailableReason() {
        for (String soname : UCX_CALLERS) {
            if (loaded(soname)) {
                return soname + " was loaded into this process before memreg's guards over UCX, so UCX's calls"
                        + " may not reach them: load memreg's UCX classes before any other UCX binding";
            }
        }
        return LIBRARY.unavailableReason();
    }

    /** Whether {@code soname} is in the process already (dlopen with RTLD_NOLOAD, which loads nothing). */
    private static boolean loaded(String soname) {
        try (Arena arena = Arena.ofConfined()) {
            long handle = (long) DLOPEN.invokeExact(arena.allocateFrom(soname), RTLD_NOW | RTLD_NOLOAD);
            if (handle != 0) {
                int ignored = (int) DLCLOSE.invokeExact(handle); // drops the reference NOLOAD took
            }
            return handle != 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The address of UCX's own {@code name} in {@code library} (libucp's, libucs's), which a guard hands on to. */
    static long ucxFunction(SymbolLookup library, String name) {
        return library.find(name).orElseThrow(() -> new UnsatisfiedLinkError("OpenUCX has no " + name)).address();
    }

    /**
     * What a guard that takes an entry of libucp's table of message handlers answered: 0, or
     * libucp's {@code handler} entry was not of the form the guard stands in front of.
     */
    static void requireTaken(int status, String handler) {
        if (status != 0) {
            throw new UnsatisfiedLinkError("OpenUCX's " + handler + " is not of UCX 1.13's form: memreg cannot guard it");
        }
    }

    /** Calls a guard's {@code void f(uint64_t)}. */
    static void call(MethodHandle voidOfLong, long argument) {
        try {
            voidOfLong.invokeExact(argument);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Calls a guard's {@code void f(uint64_t, uint64_t)}: an install that hands over two of UCX's functions. */
    static void call(MethodHandle voidOfTwoLongs, long first, long second) {
        try {
            voidOfTwoLongs.invokeExact(first, second);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Calls a guard's {@code int f(uint64_t)}: its answer. */
    static int answer(MethodHandle intOfLong, long argument) {
        try {
            return (int) intOfLong.invokeExact(argument);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Reads one of the guards' counters. */
    static long counter(MethodHandle handle) {
        try {
            return (long) handle.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Reads one of a guard's counters by kind: its {@code uint64_t f(int kind)}. */
    static long counter(MethodHandle longOfInt, int kind) {
        try {
            return (long) longOfInt.invokeExact(kind);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @SuppressWarnings("restricted") // dlopen(3) and dlclose(3), by their signatures
    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find(name).orElseThrow(), descriptor);
    }

    /** dlopen with RTLD_GLOBAL, which SymbolLookup does not offer: libucp's calls must find the guards. */
    @SuppressWarnings("restricted") // our own library
    private static SymbolLookup loadGlobal(Path library) {
        try (Arena arena = Arena.ofConfined()) {
            long handle = (long) DLOPEN.invokeExact(arena.allocateFrom(library.toString()), RTLD_NOW | RTLD_GLOBAL);
            if (handle == 0) {
                throw new IllegalStateException("dlopen failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return SymbolLookup.libraryLookup(library, Arena.global());
    }
}
