package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

/**
 * Breaks a {@link UserfaultfdMonitor} the way a buggy library's stray close and reopen would: one
 * of its eventfds is replaced behind its back by /dev/null (read-only), so its owner's reads get
 * 0 bytes and its writes EBADF. For tests of what fails with the monitor, in any package.
 */
public final class EventFdSabotage {
    /** The eventfd that stops the reader. */
    public static final int READER_STOP = 0;
    /** The eventfd the delivery thread polls, which the reader signals after every batch. */
    public static final int DELIVERY_READY = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle DUP2 = downcall("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private EventFdSabotage() {
    }

    /** Puts /dev/null behind the monitor's eventfd {@code which} ({@link #READER_STOP} or {@link #DELIVERY_READY}). */
    public static void replaceWithDevNull(UserfaultfdMonitor monitor, int which) throws Throwable {
        int fd = monitor.eventFds()[which];
        try (Arena arena = Arena.ofConfined()) {
            int devNull = (int) OPEN.invokeExact(arena.allocateFrom("/dev/null"), 0);
            assertTrue(devNull >= 0, "open /dev/null");
            assertEquals(fd, (int) DUP2.invokeExact(devNull, fd));
            assertEquals(0, (int) CLOSE.invokeExact(devNull));
        }
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }
}
