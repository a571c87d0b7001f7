package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** {@code madvise}: populating, dropping and hugepage advice for a range. */
public final class Madvise {
    /** No special treatment. */
    public static final int MADV_NORMAL = 0;
    /** Drop the pages; private anonymous memory reads back as zeros. */
    public static final int MADV_DONTNEED = 4;
    /** The pages may be freed lazily when memory is short. */
    public static final int MADV_FREE = 8;
    /** Back with transparent huge pages where possible. */
    public static final int MADV_HUGEPAGE = 14;
    /** Do not back with transparent huge pages. */
    public static final int MADV_NOHUGEPAGE = 15;
    /** Fault the pages in readable (like a read of each page), Linux 5.14+. */
    public static final int MADV_POPULATE_READ = 22;
    /** Fault the pages in writable (like a write of each page, breaking COW), Linux 5.14+. */
    public static final int MADV_POPULATE_WRITE = 23;

    private static final MethodHandle MADVISE = Native.errnoCall("madvise",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));

    private Madvise() {
    }

    /** {@code madvise(address, length, advice)}; throws {@link LinuxException} on failure. */
    public static void madvise(long address, long length, int advice) {
        int errno = tryMadvise(address, length, advice);
        if (errno != 0) {
            throw new LinuxException("madvise", errno);
        }
    }

    /**
     * {@code madvise} for callers that branch on the outcome: returns 0 or the errno. For the
     * populate advices: ENOMEM means part of the range is not mapped, EFAULT or EINVAL that the
     * pages cannot be faulted in that way (for example POPULATE_WRITE on a read-only mapping).
     */
    public static int tryMadvise(long address, long length, int advice) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) MADVISE.invokeExact(state, address, length, advice);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result == 0 ? 0 : Native.errno(state);
    }
}
