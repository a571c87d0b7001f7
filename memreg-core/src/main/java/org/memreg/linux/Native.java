package org.memreg.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The one place that creates downcall handles into libc and reads errno.
 *
 * <p>Handles that need errno are linked with {@code captureCallState("errno")}: the handle takes
 * a leading capture segment, which must be this thread's {@link #callState()} (the JVM may run
 * other native code on this thread between the call and our read, so errno itself is useless).
 *
 * <p>Pointers are passed as {@code JAVA_LONG}: on LP64 Linux a pointer and a long travel in the
 * same register class, and passing raw addresses avoids wrapping every address in a segment.
 */
final class Native {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    // One capture segment per thread; Arena.ofAuto frees it once the thread and segment are gone.
    private static final ThreadLocal<MemorySegment> CALL_STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private Native() {
    }

    /** A downcall to the libc function {@code name} that captures errno (leading segment argument). */
    static MethodHandle errnoCall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = Arrays.copyOf(options, options.length + 1);
        all[options.length] = CAPTURE_ERRNO;
        return call(name, descriptor, all);
    }

    /** A downcall to the libc function {@code name} without errno capture. */
    @SuppressWarnings("restricted") // the caller vouches for the address/symbol
    static MethodHandle call(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no function " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** This thread's errno capture segment, to pass as the first argument of an errno call. */
    static MemorySegment callState() {
        return CALL_STATE.get();
    }

    /** The errno the last errno call on this thread captured into {@code state}. */
    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** Throws a {@link LinuxException} naming {@code function} and the errno in {@code state}. */
    static LinuxException failure(String function, MemorySegment state) {
        return new LinuxException(function, errno(state));
    }
}
