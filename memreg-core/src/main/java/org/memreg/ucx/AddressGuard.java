package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * memreg's guard over the UCX worker addresses the process unpacks ({@code
 * src/main/native/memreg_address_guard.c}, in {@link GuardLibrary}).
 *
 * <p>UCX 1.13 trusts a worker address's bytes, and a peer chooses them: in a hello, and in UCX's
 * own wire-up messages, which memreg never sees. A NaN latency aborted the process in an
 * assertion; an interface address of length 0 crashed it. The library defines {@code
 * ucp_address_unpack}, so libucp's own calls to that function (through its PLT) reach the guard,
 * which checks the address and then calls libucp's ({@link #install}) or refuses it as UCX
 * refuses a malformed one.
 */
final class AddressGuard {
    /** What UCX's unpacking reads when memreg creates an endpoint (ucp_worker_default_address_pack_flags). */
    private static final int ENDPOINT_FLAGS = 0x1f;

    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle CHECK = LIBRARY.downcall("memreg_address_check",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle REASON = LIBRARY.downcall("memreg_guard_reason",
            FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_guard_install",
            FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle UNPACKED = LIBRARY.downcall("memreg_guard_unpacked",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle REFUSED = LIBRARY.downcall("memreg_guard_refused",
            FunctionDescriptor.of(JAVA_LONG));

    private AddressGuard() {
    }

    /** Hands the guard libucp's own {@code ucp_address_unpack}, found in {@code libucp}. */
    static void install(SymbolLookup libucp) {
        long real = GuardLibrary.ucxFunction(libucp, "ucp_address_unpack");
        try {
            INSTALL.invokeExact(real);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Why {@code address} is not a worker address UCX can be given safely, or null when it is. */
    static String check(byte[] address) {
        try (Arena arena = Arena.ofConfined()) {
            return check(arena.allocateFrom(JAVA_BYTE, address));
        }
    }

    /** As {@link #check(byte[])}, of native memory; reads only inside {@code address}. */
    static String check(MemorySegment address) {
        try {
            int fault = (int) CHECK.invokeExact(address.address(), address.byteSize(), ENDPOINT_FLAGS);
            if (fault == 0) {
                return null;
            }
            MemorySegment reason = (MemorySegment) REASON.invokeExact(fault);
            return reason.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** How many worker addresses UCX unpacked in this process, through the guard. */
    static long unpacked() {
        return GuardLibrary.counter(UNPACKED);
    }

    /** How many of them the guard refused. */
    static long refused() {
        return GuardLibrary.counter(REFUSED);
    }
}
