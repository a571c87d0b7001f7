package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Scheduling policy of the calling thread ({@code sched_setscheduler(0, ...)}). */
public final class Scheduling {
    /** First-in first-out real-time policy. */
    public static final int SCHED_FIFO = 1;
    // int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
    private static final MethodHandle SET_SCHEDULER = Native.errnoCall("sched_setscheduler",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));

    private Scheduling() {
    }

    /**
     * Makes the calling thread real-time (SCHED_FIFO at {@code priority}, 1..99), so that it runs
     * as soon as it is woken instead of waiting for a time slice. Needs CAP_SYS_NICE or an
     * RLIMIT_RTPRIO; returns 0 or the errno (EPERM without them), never throws.
     */
    public static int tryRealtime(int priority) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment param = arena.allocate(JAVA_INT);
            param.set(JAVA_INT, 0, priority);
            MemorySegment state = Native.callState();
            int result = (int) SET_SCHEDULER.invokeExact(state, 0, SCHED_FIFO, param.address());
            return result == 0 ? 0 : Native.errno(state);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
