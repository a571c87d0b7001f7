package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A non-blocking {@code eventfd}: a kernel counter that is readable (POLLIN) while non-zero. Put
 * its {@link #fd()} in a {@link Poll} set and {@link #signal()} it from another thread to wake the
 * poller, for example to stop a reader thread.
 *
 * <p>Thread safe; {@link #drain()} is meant for the polling thread (concurrent drains split the
 * count between them).
 */
public final class EventFd implements AutoCloseable {
    private static final int EFD_NONBLOCK = Fd.O_NONBLOCK;
    private static final int EFD_CLOEXEC = Fd.O_CLOEXEC;
    private static final MethodHandle EVENTFD = Native.errnoCall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    private final int fd;
    // The constant 1 that signal() writes: signallers only read it, so all may share it.
    private static final MemorySegment ONE = Arena.global().allocate(JAVA_LONG);

    static {
        ONE.set(JAVA_LONG, 0, 1L);
    }

    private final AtomicBoolean closed = new AtomicBoolean();

    private EventFd(int fd) {
        this.fd = fd;
    }

    /** Creates an eventfd with counter 0, EFD_CLOEXEC | EFD_NONBLOCK. */
    public static EventFd open() {
        MemorySegment state = Native.callState();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(state, 0, EFD_CLOEXEC | EFD_NONBLOCK);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (fd < 0) {
            throw Native.failure("eventfd", state);
        }
        return new EventFd(fd);
    }

    /** The descriptor, to poll for {@link Poll#POLLIN}. */
    public int fd() {
        return fd;
    }

    /** Adds 1 to the counter, waking pollers. A saturated counter (EAGAIN) is already awake. */
    public void signal() {
        long result = Fd.write(fd, ONE.address(), 8);
        if (result < 0 && result != -Errno.EAGAIN) {
            throw new LinuxException("write", (int) -result, "eventfd");
        }
    }

    /** Reads and resets the counter: the number of signals since the last drain, 0 if none. */
    public long drain() {
        MemorySegment buffer = Fd.scratch();
        long result = Fd.read(fd, buffer.address(), 8);
        if (result == 8) {
            return buffer.get(JAVA_LONG, 0);
        }
        if (result == -Errno.EAGAIN) {
            return 0;
        }
        if (result < 0) {
            throw new LinuxException("read", (int) -result, "eventfd");
        }
        throw new IllegalStateException("eventfd read " + result + " bytes, not 8");
    }

    /** Closes the descriptor; later calls do nothing. */
    @Override
    public void close() {
        Fd.closeOnce(closed, fd, "eventfd");
    }
}
