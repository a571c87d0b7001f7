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
 * memreg's guards over UCX ({@code src/main/native/memreg_address_guard.c} and {@code
 * memreg_tcp_guard.c}, built into this package as {@value #RESOURCE}): {@link AddressGuard} and
 * {@link TcpGuard}. The library defines functions that libucp and libuct call through their PLT
 * ({@code ucp_address_unpack}, libucs's socket calls), so it is loaded into the process's global
 * scope before libucp: their calls then reach the guards, which hand them on to UCX's own.
 */
final class GuardLibrary {
    static final String RESOURCE = "libmemreg-ucx-guard.so";
    private static final int RTLD_NOW = 0x2;
    private static final int RTLD_GLOBAL = 0x100;

    static final NativeResource LIBRARY = NativeResource.load(GuardLibrary.class, RESOURCE, GuardLibrary::loadGlobal);

    private GuardLibrary() {
    }

    /** Why the guards cannot be loaded, or null when they are (they must be, before libucp). */
    static String unavailableReason() {
        return LIBRARY.unavailableReason();
    }

    /** Reads one of the guards' counters. */
    static long counter(MethodHandle handle) {
        try {
            return (long) handle.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** dlopen with RTLD_GLOBAL, which SymbolLookup does not offer: libucp's calls must find the guards. */
    @SuppressWarnings("restricted") // our own library; dlopen(3)'s signature
    private static SymbolLookup loadGlobal(Path library) {
        Linker linker = Linker.nativeLinker();
        MethodHandle dlopen = linker.downcallHandle(linker.defaultLookup().find("dlopen").orElseThrow(),
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            long handle = (long) dlopen.invokeExact(arena.allocateFrom(library.toString()), RTLD_NOW | RTLD_GLOBAL);
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
