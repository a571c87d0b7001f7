package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code mincore}: which pages of a range are resident, and, through its ENOMEM, whether the
 * range is mapped at all. mlock fails with ENOMEM both for unmapped memory and for
 * RLIMIT_MEMLOCK; mincore tells the two apart because it only fails for unmapped ranges.
 */
public final class Mincore {
    private static final MethodHandle MINCORE = Native.errnoCall("mincore",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));

    private Mincore() {
    }

    /**
     * True when every page of {@code [address, address + length)} is mapped.
     *
     * @param address page aligned
     * @throws LinuxException for errors other than ENOMEM (such as EINVAL for a misaligned address)
     */
    public static boolean isMapped(long address, long length) {
        int errno = mincore(address, length, null);
        if (errno != 0 && errno != Errno.ENOMEM) {
            throw new LinuxException("mincore", errno);
        }
        return errno == 0;
    }

    /**
     * Residency of each page of the range: element i is true when page i is in memory.
     *
     * @throws LinuxException ENOMEM when part of the range is not mapped
     */
    public static boolean[] residency(long address, long length) {
        long pages = (length + SysConf.pageSize() - 1) / SysConf.pageSize();
        boolean[] resident = new boolean[Math.toIntExact(pages)];
        int errno = mincore(address, length, resident);
        if (errno != 0) {
            throw new LinuxException("mincore", errno);
        }
        return resident;
    }

    private static int mincore(long address, long length, boolean[] resident) {
        long pages = (length + SysConf.pageSize() - 1) / SysConf.pageSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vector = arena.allocate(Math.max(1, pages));
            MemorySegment state = Native.callState();
            int result = (int) MINCORE.invokeExact(state, address, length, vector.address());
            if (result != 0) {
                return Native.errno(state);
            }
            for (int i = 0; resident != null && i < resident.length; i++) {
                resident[i] = (vector.get(JAVA_BYTE, i) & 1) != 0;
            }
            return 0;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
