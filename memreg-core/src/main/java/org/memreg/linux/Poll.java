package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code poll(2)} over a caller-owned array of {@code struct pollfd}, so a loop that polls again
 * and again allocates nothing.
 *
 * <pre>
 *  0        4         6          8
 * +--------+---------+----------+
 * | fd i32 | events  | revents  |   struct pollfd, 8 bytes, one per descriptor
 * +--------+---------+----------+
 * </pre>
 */
public final class Poll {
    /** There is data to read. */
    public static final int POLLIN = 0x1;
    /** Exceptional condition; PSI triggers fire with it. */
    public static final int POLLPRI = 0x2;
    /** Writing will not block. */
    public static final int POLLOUT = 0x4;
    /** Error condition (revents only). */
    public static final int POLLERR = 0x8;
    /** Hang up (revents only). */
    public static final int POLLHUP = 0x10;
    /** The descriptor is not open (revents only). */
    public static final int POLLNVAL = 0x20;
    /** Bytes per {@code struct pollfd}. */
    public static final long POLLFD_SIZE = 8;

    private static final long FD = 0;
    private static final long EVENTS = 4;
    private static final long REVENTS = 6;
    // int poll(struct pollfd *fds, nfds_t nfds, int timeout); nfds_t is unsigned long
    private static final MethodHandle POLL = Native.errnoCall("poll",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));

    private Poll() {
    }

    /** A native, zeroed array of {@code count} pollfds, owned by {@code arena}. */
    public static MemorySegment allocate(Arena arena, int count) {
        return arena.allocate(POLLFD_SIZE * count, 8);
    }

    /** Sets entry {@code index} to watch {@code fd} for {@code events}; clears its revents. */
    public static void set(MemorySegment pollfds, int index, int fd, int events) {
        long base = index * POLLFD_SIZE;
        pollfds.set(JAVA_INT, base + FD, fd);
        pollfds.set(JAVA_SHORT, base + EVENTS, (short) events);
        pollfds.set(JAVA_SHORT, base + REVENTS, (short) 0);
    }

    /** The descriptor of entry {@code index}. */
    public static int fd(MemorySegment pollfds, int index) {
        return pollfds.get(JAVA_INT, index * POLLFD_SIZE + FD);
    }

    /** The events the last {@link #poll} reported for entry {@code index} (0: none). */
    public static int revents(MemorySegment pollfds, int index) {
        return Short.toUnsignedInt(pollfds.get(JAVA_SHORT, index * POLLFD_SIZE + REVENTS));
    }

    /**
     * Waits until one of the first {@code count} entries is ready, at most {@code timeoutMillis}
     * (-1: forever, 0: do not wait). Returns how many entries have non-zero revents; 0 on timeout
     * and on EINTR (a signal: the caller loops anyway). The kernel overwrites every revents.
     *
     * @throws IllegalArgumentException when {@code pollfds} is not native or too small
     * @throws LinuxException when poll fails otherwise (EFAULT, EINVAL, ENOMEM)
     */
    public static int poll(MemorySegment pollfds, int count, int timeoutMillis) {
        if (!pollfds.isNative() || pollfds.byteSize() < count * POLLFD_SIZE || count < 0) {
            throw new IllegalArgumentException("need a native segment of " + count + " pollfds");
        }
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) POLL.invokeExact(state, pollfds.address(), (long) count, timeoutMillis);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result >= 0) {
            return result;
        }
        int errno = Native.errno(state);
        if (errno == Errno.EINTR) {
            return 0;
        }
        throw new LinuxException("poll", errno);
    }
}
