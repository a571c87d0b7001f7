package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code mlock}, {@code munlock} and the RLIMIT_MEMLOCK limit.
 *
 * <p>The kernel does not count locks: one munlock undoes any number of mlocks of a page. Callers
 * that lock overlapping ranges must count themselves. mlock keeps pages resident but does not
 * stop the kernel from moving them to other physical frames (compaction, THP, NUMA balancing).
 */
public final class MemoryLock {
    /** {@code RLIMIT_MEMLOCK}: bytes an unprivileged process may lock. */
    public static final int RLIMIT_MEMLOCK = 8;
    /** {@code RLIM_INFINITY} as a signed long. */
    public static final long RLIM_INFINITY = -1L;

    private static final MethodHandle MLOCK = Native.errnoCall("mlock",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MUNLOCK = Native.errnoCall("munlock",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle GETRLIMIT = Native.errnoCall("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));

    /** A resource limit; {@link #RLIM_INFINITY} means none. */
    public record Limit(long soft, long hard) {
    }

    private MemoryLock() {
    }

    /**
     * Locks the pages of the range into memory (and faults them in). Returns 0 or the errno:
     * ENOMEM when part of the range is unmapped <em>or</em> RLIMIT_MEMLOCK would be exceeded
     * (tell them apart with {@link Mincore#isMapped}), EAGAIN when some pages could not be locked,
     * EPERM when the limit is 0 and the caller lacks CAP_IPC_LOCK. On failure some of the range
     * may already be locked: the kernel marks mappings one by one before it sees a hole.
     */
    public static int tryMlock(long address, long length) {
        return call(MLOCK, address, length);
    }

    /** Unlocks the pages of the range; returns 0 or the errno (ENOMEM: part is unmapped). */
    public static int tryMunlock(long address, long length) {
        return call(MUNLOCK, address, length);
    }

    /** Like {@link #tryMlock} but throws {@link LinuxException}. */
    public static void mlock(long address, long length) {
        int errno = tryMlock(address, length);
        if (errno != 0) {
            throw new LinuxException("mlock", errno);
        }
    }

    /** Like {@link #tryMunlock} but throws {@link LinuxException}. */
    public static void munlock(long address, long length) {
        int errno = tryMunlock(address, length);
        if (errno != 0) {
            throw new LinuxException("munlock", errno);
        }
    }

    /** The soft and hard RLIMIT_MEMLOCK in bytes. */
    public static Limit memlockLimit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rlimit = arena.allocate(16, 8);
            MemorySegment state = Native.callState();
            int result = (int) GETRLIMIT.invokeExact(state, RLIMIT_MEMLOCK, rlimit.address());
            if (result != 0) {
                throw Native.failure("getrlimit", state);
            }
            return new Limit(rlimit.get(JAVA_LONG, 0), rlimit.get(JAVA_LONG, 8));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static int call(MethodHandle handle, long address, long length) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) handle.invokeExact(state, address, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result == 0 ? 0 : Native.errno(state);
    }
}
