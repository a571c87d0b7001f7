package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The NUMA system calls that glibc does not wrap (libnuma does; memreg does not depend on it),
 * made through {@code syscall(2)} with every argument as a long. Numbers for x86-64 and arm64.
 */
final class NumaSyscalls {
    private static final boolean ARM64 = "aarch64".equals(System.getProperty("os.arch"));
    static final long MBIND = ARM64 ? 235 : 237;
    static final long GET_MEMPOLICY = ARM64 ? 236 : 239;
    static final long MIGRATE_PAGES = ARM64 ? 238 : 256;
    static final long MOVE_PAGES = ARM64 ? 239 : 279;

    // long syscall(long number, ...): six arguments, unused ones passed as 0
    private static final MethodHandle SYSCALL = Native.errnoCall("syscall", FunctionDescriptor.of(JAVA_LONG,
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    private NumaSyscalls() {
    }

    /** {@code syscall(number, a..f)}: the non-negative result, or {@code -errno}. */
    static long call(long number, long a, long b, long c, long d, long e, long f) {
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) SYSCALL.invokeExact(state, number, a, b, c, d, e, f);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -Native.errno(state);
    }
}
