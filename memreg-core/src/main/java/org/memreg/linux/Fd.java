package org.memreg.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Plain file-descriptor calls ({@code open}, {@code read}, {@code write}, {@code close}) for the
 * classes of this package that own a descriptor. They return codes instead of throwing, so the
 * owners can pick which errno is an answer (EAGAIN, EINTR) and which is a failure.
 */
final class Fd {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;

    private static final MethodHandle OPEN = Native.errnoCall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle READ = Native.errnoCall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle WRITE = Native.errnoCall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CLOSE = Native.errnoCall("close",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    /** Bytes in each thread's {@link #scratch()} segment. */
    static final long SCRATCH_SIZE = 64;

    // Per-thread room for small ioctl structs and 8-byte reads: no allocation on hot paths, and
    // the ThreadLocal keeps the memory alive while a native call uses its raw address.
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SCRATCH_SIZE, 8));

    private Fd() {
    }

    /** This thread's {@value #SCRATCH_SIZE}-byte scratch segment; contents are not preserved. */
    static MemorySegment scratch() {
        return SCRATCH.get();
    }

    /** {@code open(path, flags)}: the new descriptor, or {@code -errno}. Not for hot paths. */
    static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Native.callState();
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags);
            return fd >= 0 ? fd : -Native.errno(state);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code read(fd, address, length)}: bytes read (0 at end of file), or {@code -errno}. */
    static long read(int fd, long address, long length) {
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) READ.invokeExact(state, fd, address, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -Native.errno(state);
    }

    /** {@code write(fd, address, length)}: bytes written, or {@code -errno}. */
    static long write(int fd, long address, long length) {
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) WRITE.invokeExact(state, fd, address, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -Native.errno(state);
    }

    /**
     * {@code close(fd)}: 0 or the errno. Never retry on EINTR: Linux has released the descriptor
     * by then, and a second close could hit a descriptor another thread has just opened.
     */
    static int close(int fd) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result == 0 ? 0 : Native.errno(state);
    }

    /**
     * Closes {@code fd} the first time {@code closed} flips to true, and never again: the number
     * may already name another thread's new file. EINTR is success (see {@link #close(int)}).
     *
     * @throws LinuxException when close reports another error (EBADF, EIO)
     */
    static void closeOnce(AtomicBoolean closed, int fd, String what) {
        if (closed.compareAndSet(false, true)) {
            int errno = close(fd);
            if (errno != 0 && errno != Errno.EINTR) {
                throw new LinuxException("close", errno, what);
            }
        }
    }
}
