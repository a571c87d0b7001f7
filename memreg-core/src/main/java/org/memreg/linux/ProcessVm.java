package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * {@code process_vm_readv} / {@code process_vm_writev}: copy between a local buffer and another
 * process's memory — or this process's own. On the own pid this is a copy that cannot crash:
 * an unmapped or protected page yields EFAULT instead of SIGSEGV, which is how the simulated
 * NIC moves data out of and into registered memory that may have been unmapped underneath it.
 *
 * <p>These are hot-path calls: they return the byte count or a negative errno and never throw
 * for kernel errors. A count shorter than asked means the copy stopped at a fault: the kernel
 * copies at most about 2 GiB a call and says nothing of the rest, so longer copies go in pieces.
 */
public final class ProcessVm {
    private static final FunctionDescriptor DESCRIPTOR = FunctionDescriptor.of(
            JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
    private static final MethodHandle READV = Native.errnoCall("process_vm_readv", DESCRIPTOR);
    private static final MethodHandle WRITEV = Native.errnoCall("process_vm_writev", DESCRIPTOR);
    /** The most one call is asked to copy: below the kernel's limit (MAX_RW_COUNT, 2 GiB less a page). */
    static final long MAX_PIECE = 1L << 30;
    private static final int SELF = (int) ProcessHandle.current().pid();
    // Two iovecs {void *base; size_t len}: local at 0, remote at 16.
    private static final ThreadLocal<MemorySegment> IOVECS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(32, 8));

    private ProcessVm() {
    }

    /** This JVM's pid. */
    public static int selfPid() {
        return SELF;
    }

    /**
     * Copies {@code local.byteSize()} bytes from {@code remoteAddress} in process {@code pid} into
     * {@code local} (a native segment). Returns the bytes copied or {@code -errno}: -EFAULT for
     * an unmapped remote page, -ESRCH for no such process, -EPERM when not allowed.
     */
    public static long read(int pid, long remoteAddress, MemorySegment local) {
        return transfer(READV, pid, remoteAddress, local);
    }

    /** Copies {@code local} to {@code remoteAddress} in process {@code pid}; see {@link #read}. */
    public static long write(int pid, long remoteAddress, MemorySegment local) {
        return transfer(WRITEV, pid, remoteAddress, local);
    }

    /** {@link #read} on this process: a fault-safe copy from {@code address} into {@code local}. */
    public static long readSelf(long address, MemorySegment local) {
        return transfer(READV, SELF, address, local);
    }

    /** {@link #write} on this process: a fault-safe copy from {@code local} to {@code address}. */
    public static long writeSelf(long address, MemorySegment local) {
        return transfer(WRITEV, SELF, address, local);
    }

    private static long transfer(MethodHandle handle, int pid, long remoteAddress, MemorySegment local) {
        return transfer(handle, pid, remoteAddress, local, MAX_PIECE);
    }

    /** {@link #readSelf} asking the kernel for at most {@code maxPiece} bytes a call (tests of the pieces). */
    static long readSelf(long address, MemorySegment local, long maxPiece) {
        return transfer(READV, SELF, address, local, maxPiece);
    }

    /** The bytes copied, in pieces of at most {@code maxPiece}, until done or a piece falls short; or -errno. */
    private static long transfer(MethodHandle handle, int pid, long remoteAddress, MemorySegment local,
            long maxPiece) {
        if (!local.isNative()) {
            throw new IllegalArgumentException("process_vm_readv/writev need a native segment");
        }
        long length = local.byteSize();
        long done = 0;
        while (done < length) {
            long piece = Math.min(length - done, maxPiece);
            long copied = transferOnce(handle, pid, remoteAddress + done, local.address() + done, piece);
            if (copied < 0) {
                return done > 0 ? done : copied; // a fault after some pieces: a short count, as in one call
            }
            done += copied;
            if (copied < piece) {
                break; // stopped at a fault
            }
        }
        return done;
    }

    private static long transferOnce(MethodHandle handle, int pid, long remoteAddress, long localAddress,
            long length) {
        MemorySegment iovecs = IOVECS.get();
        iovecs.set(JAVA_LONG, 0, localAddress);
        iovecs.set(JAVA_LONG, 8, length);
        iovecs.set(JAVA_LONG, 16, remoteAddress);
        iovecs.set(JAVA_LONG, 24, length);
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) handle.invokeExact(state, pid, iovecs.address(), 1L, iovecs.address() + 16, 1L, 0L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -Native.errno(state);
    }
}
