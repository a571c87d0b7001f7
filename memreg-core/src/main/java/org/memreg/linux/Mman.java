package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Mapping memory: {@code mmap}, {@code munmap}, {@code mremap} and {@code mprotect}. Addresses
 * are plain longs. Every method throws {@link LinuxException} on failure. All go through libc
 * (and so through any memory hooks installed on it, such as UCX's), except
 * {@link #munmapBypassingLibc}.
 */
public final class Mman {
    /** Pages may not be accessed. */
    public static final int PROT_NONE = 0;
    /** Pages may be read. */
    public static final int PROT_READ = 1;
    /** Pages may be written. */
    public static final int PROT_WRITE = 2;
    /** Pages may be executed. */
    public static final int PROT_EXEC = 4;
    /** Changes are visible to other mappings of the same object. */
    public static final int MAP_SHARED = 0x01;
    /** Copy-on-write mapping private to this process. */
    public static final int MAP_PRIVATE = 0x02;
    /** Place the mapping exactly at the address given, replacing whatever was there. */
    public static final int MAP_FIXED = 0x10;
    /** Not backed by a file; zero filled. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** Do not reserve swap space. */
    public static final int MAP_NORESERVE = 0x4000;
    /** Fault the pages in now. */
    public static final int MAP_POPULATE = 0x8000;
    /** Back with hugetlbfs pages (needs {@code nr_hugepages}). */
    public static final int MAP_HUGETLB = 0x40000;
    /** Like MAP_FIXED, but fail with EEXIST instead of replacing an existing mapping. */
    public static final int MAP_FIXED_NOREPLACE = 0x100000;
    /** mremap may move the mapping. */
    public static final int MREMAP_MAYMOVE = 1;
    /** mremap moves the mapping to the new address given (needs MAYMOVE). */
    public static final int MREMAP_FIXED = 2;
    /** mremap moves the pages but leaves the old range mapped and empty (private anonymous). */
    public static final int MREMAP_DONTUNMAP = 4;

    private static final long MAP_FAILED = -1L;
    private static final boolean ARM64 = "aarch64".equals(System.getProperty("os.arch"));
    private static final long SYS_MUNMAP = ARM64 ? 215 : 11;
    private static final long SYS_MREMAP = ARM64 ? 216 : 25;
    private static final MethodHandle MPROTECT = Native.errnoCall("mprotect",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MMAP = Native.errnoCall("mmap", FunctionDescriptor.of(
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = Native.errnoCall("munmap",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    // void *mremap(void *old, size_t old_size, size_t new_size, int flags, ... /* void *new */)
    private static final MethodHandle MREMAP = Native.errnoCall("mremap", FunctionDescriptor.of(
            JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG),
            Linker.Option.firstVariadicArg(4));

    private Mman() {
    }

    /** {@code mmap(address, length, prot, flags, fd, offset)}; returns the mapping's address. */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) MMAP.invokeExact(state, address, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result == MAP_FAILED) {
            throw Native.failure("mmap", state);
        }
        return result;
    }

    /** Maps {@code length} bytes of private, anonymous, read-write memory anywhere. */
    public static long mapAnonymous(long length) {
        return mmap(0L, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
    }

    /**
     * Maps private, anonymous, read-write memory exactly at {@code address} with MAP_FIXED,
     * atomically replacing whatever was mapped there. Only use it on ranges you own.
     */
    public static long mapAnonymousFixed(long address, long length) {
        return mmap(address, length, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0L);
    }

    /** Unmaps {@code [address, address + length)}; unmapped parts are ignored by the kernel. */
    public static void munmap(long address, long length) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) MUNMAP.invokeExact(state, address, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result != 0) {
            throw Native.failure("munmap", state);
        }
    }

    /**
     * Unmaps by a raw {@code syscall(SYS_munmap)}, as code that bypasses libc does: hooks on
     * libc's munmap do not see it (the kernel, and so userfaultfd, does).
     */
    public static void munmapBypassingLibc(long address, long length) {
        long result = NumaSyscalls.call(SYS_MUNMAP, address, length, 0, 0, 0, 0);
        if (result < 0) {
            throw new LinuxException("syscall(SYS_munmap)", (int) -result);
        }
    }

    /** {@code mprotect(address, length, prot)}. */
    public static void mprotect(long address, long length, int prot) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) MPROTECT.invokeExact(state, address, length, prot);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result != 0) {
            throw Native.failure("mprotect", state);
        }
    }

    /**
     * {@code mremap}; {@code newAddress} is used with MREMAP_FIXED. Returns the new address.
     *
     * <p>With MREMAP_FIXED the call is a raw system call, not libc's: UCX's memory hooks before
     * UCX 1.15 (Debian 12 ships 1.13) drop mremap's fifth argument, so through a hooked libc the
     * mapping would move to whatever address a stale register held. Hooks therefore do not see
     * such a call (userfaultfd does).
     */
    public static long mremap(long oldAddress, long oldLength, long newLength, int flags, long newAddress) {
        if ((flags & MREMAP_FIXED) != 0) {
            long moved = NumaSyscalls.call(SYS_MREMAP, oldAddress, oldLength, newLength, flags, newAddress, 0);
            if (moved < 0) {
                throw new LinuxException("mremap", (int) -moved);
            }
            return moved;
        }
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) MREMAP.invokeExact(state, oldAddress, oldLength, newLength, flags, newAddress);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result == MAP_FAILED) {
            throw Native.failure("mremap", state);
        }
        return result;
    }

    /** A segment over {@code [address, address + length)}, for reading and writing it from Java. */
    @SuppressWarnings("restricted") // the caller vouches for the address/symbol
    public static MemorySegment segment(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
