package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.BitSet;

/**
 * {@code sched_setaffinity} / {@code sched_getaffinity} on the calling thread (pid 0): which
 * CPUs it may run on. A {@code cpu_set_t} of 128 bytes (1024 CPUs). Pinning a platform thread
 * pins its OS thread; a virtual thread's carrier changes under it, so pin platform threads only.
 */
public final class CpuAffinity {
    /** Bytes of the cpu_set_t passed: 1024 CPUs. */
    public static final int CPU_SET_BYTES = 128;
    private static final FunctionDescriptor DESCRIPTOR = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG);
    private static final MethodHandle SET = Native.errnoCall("sched_setaffinity", DESCRIPTOR);
    private static final MethodHandle GET = Native.errnoCall("sched_getaffinity", DESCRIPTOR);

    private CpuAffinity() {
    }

    /** The CPUs the calling thread may run on. */
    public static BitSet current() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(CPU_SET_BYTES, 8);
            MemorySegment state = Native.callState();
            int result = (int) GET.invokeExact(state, 0, (long) CPU_SET_BYTES, set.address());
            if (result != 0) {
                throw Native.failure("sched_getaffinity", state);
            }
            return BitSet.valueOf(set.toArray(JAVA_LONG));
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Restricts the calling thread to {@code cpus}.
     *
     * @throws LinuxException EINVAL when no CPU of the set exists or is allowed (cpuset)
     * @throws IllegalArgumentException for an empty set or a CPU beyond 1023
     */
    public static void set(BitSet cpus) {
        if (cpus.isEmpty() || cpus.length() > CPU_SET_BYTES * 8) {
            throw new IllegalArgumentException("bad CPU set " + cpus);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(CPU_SET_BYTES, 8);
            long[] words = cpus.toLongArray();
            for (int i = 0; i < words.length; i++) {
                set.setAtIndex(JAVA_LONG, i, words[i]);
            }
            MemorySegment state = Native.callState();
            int result = (int) SET.invokeExact(state, 0, (long) CPU_SET_BYTES, set.address());
            if (result != 0) {
                throw new LinuxException("sched_setaffinity", Native.errno(state), "CPUs " + cpus);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
