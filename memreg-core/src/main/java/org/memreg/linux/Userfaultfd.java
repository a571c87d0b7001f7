package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A userfaultfd: the kernel tells this descriptor about page faults in, and about unmap, remove
 * (madvise) and remap of, the ranges registered with it. {@link #open} does the once-per-fd
 * {@code UFFDIO_API} handshake; events come from {@link #readEvents}, decoded by
 * {@link UffdMessage}.
 *
 * <p><b>Who blocks.</b> A thread that munmaps, madvise(DONTNEED)s or mremaps a registered range
 * sleeps in the kernel until the event is <em>read</em> from this descriptor (an mremap that
 * moves the range sends REMAP, then UNMAP of the old range, and waits for both), and a thread that
 * faults on a missing page of a MISSING-registered range sleeps until the fault is answered
 * ({@link #zeropage}, {@link #wake}). So a dedicated reader thread must poll and read, and must
 * itself never unmap registered memory nor take a lock that an unmapping thread may hold.
 * Closing the descriptor releases every blocked thread (and unregisters all ranges), but only
 * once no other thread is inside {@code poll} or {@code read} on it.
 *
 * <p><b>User mode only.</b> {@link #open} prefers {@code UFFD_USER_MODE_ONLY}, which Linux 5.11+
 * grants to any process; it only means that faults taken by the kernel on behalf of a syscall
 * (say read(2) into a missing page of a MISSING range) fail with EFAULT instead of waiting.
 * Events are the same. Without the flag a process needs CAP_SYS_PTRACE or
 * {@code vm.unprivileged_userfaultfd=1}.
 *
 * <p>Thread safe; {@link #close()} may be called more than once. No method may be used after
 * close (the descriptor number may already belong to another file): they throw
 * {@link IllegalStateException}.
 */
public final class Userfaultfd implements AutoCloseable {
    /** Register mode: report faults on missing pages. */
    public static final int MODE_MISSING = 1;
    /** Register mode: report writes to write-protected pages. */
    public static final int MODE_WP = 2;
    /** Register mode: report minor faults (page cache present, PTE missing; shmem/hugetlbfs). */
    public static final int MODE_MINOR = 4;
    /** Flag of the userfaultfd syscall: handle user-mode faults only (Linux 5.11+). */
    public static final int USER_MODE_ONLY = 1;

    private static final long SYS_USERFAULTFD = "aarch64".equals(System.getProperty("os.arch")) ? 282 : 323;
    private static final long UFFD_API = 0xAA;
    private static final long UFFDIO_API = 0xC018AA3FL;
    private static final long UFFDIO_REGISTER = 0xC020AA00L;
    private static final long UFFDIO_UNREGISTER = 0x8010AA01L;
    private static final long UFFDIO_WAKE = 0x8010AA02L;
    private static final long UFFDIO_ZEROPAGE = 0xC020AA04L;
    private static final long UFFDIO_WRITEPROTECT = 0xC018AA06L;
    // long syscall(long number, ...): every argument as a long
    private static final MethodHandle SYSCALL = Native.errnoCall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    // int ioctl(int fd, unsigned long request, ...): the struct pointer as a long
    private static final MethodHandle IOCTL = Native.errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));

    private final int fd;
    private final boolean userModeOnly;
    private final long features;
    private final long kernelFeatures;
    private final long ioctls;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** What {@link #probe()} found: whether userfaultfd works here, and if not, why. */
    public record Probe(boolean available, boolean userModeOnly, long kernelFeatures, long ioctls,
            String reason) {
        /** One line for a log: "available (user mode only), features ..." or "not available: why". */
        @Override
        public String toString() {
            return available
                    ? "available" + (userModeOnly ? " (user mode only)" : "") + ", kernel features "
                            + UffdFeatures.featureNames(kernelFeatures)
                    : "not available: " + reason;
        }
    }

    private Userfaultfd(int fd, boolean userModeOnly, long features, long kernelFeatures, long ioctls) {
        this.fd = fd;
        this.userModeOnly = userModeOnly;
        this.features = features;
        this.kernelFeatures = kernelFeatures;
        this.ioctls = ioctls;
    }

    /** Opens a userfaultfd with the {@link UffdFeatures#MONITOR} features. */
    public static Userfaultfd open() {
        return open(UffdFeatures.MONITOR);
    }

    /**
     * Opens a non-blocking, close-on-exec userfaultfd (user-mode-only if the kernel allows it,
     * else plain) and enables {@code features} ({@link UffdFeatures} bits).
     *
     * @throws NotAvailableException when userfaultfd or a requested feature is unavailable here;
     *         its {@link NotAvailableException#reason()} says why
     * @throws LinuxException when the process is out of descriptors (EMFILE, ENFILE)
     */
    public static Userfaultfd open(long features) {
        int base = Fd.O_CLOEXEC | Fd.O_NONBLOCK;
        boolean userModeOnly = true;
        long fd = syscall(base | USER_MODE_ONLY);
        if (fd < 0 && !outOfDescriptors((int) -fd)) {
            int userModeErrno = (int) -fd;
            userModeOnly = false;
            fd = syscall(base);
            if (fd < 0 && !outOfDescriptors((int) -fd)) {
                throw new NotAvailableException("userfaultfd", "userfaultfd", (int) -fd,
                        UffdDiagnosis.openFailure(userModeErrno, (int) -fd));
            }
        }
        if (fd < 0) {
            throw new LinuxException("userfaultfd", (int) -fd);
        }
        MemorySegment api = Fd.scratch();
        api.set(JAVA_LONG, 0, UFFD_API);
        api.set(JAVA_LONG, 8, features);
        api.set(JAVA_LONG, 16, 0L);
        int errno = ioctl((int) fd, UFFDIO_API, api.address());
        if (errno != 0) {
            Fd.close((int) fd);
            throw new NotAvailableException("userfaultfd", "ioctl(UFFDIO_API)", errno,
                    UffdDiagnosis.apiFailure(errno, features));
        }
        return new Userfaultfd((int) fd, userModeOnly, features, api.get(JAVA_LONG, 8),
                api.get(JAVA_LONG, 16));
    }

    /** Tries {@link #open(long)} with {@code features} and closes again: whether it works, or why not. */
    public static Probe probe(long features) {
        try (Userfaultfd uffd = open(features)) {
            return new Probe(true, uffd.userModeOnly, uffd.kernelFeatures, uffd.ioctls, "");
        } catch (NotAvailableException e) {
            return new Probe(false, false, 0, 0,
                    e.reason() + " (" + e.function() + " gave " + Errno.name(e.errno()) + ")");
        }
    }

    /** {@link #probe(long)} with the {@link UffdFeatures#MONITOR} features. */
    public static Probe probe() {
        return probe(UffdFeatures.MONITOR);
    }

    /**
     * Like {@link #probe()} but tries one mode only: with {@link #USER_MODE_ONLY} (any process on
     * Linux 5.11+) or without it (CAP_SYS_PTRACE or {@code vm.unprivileged_userfaultfd=1}), to
     * say which of the two works here.
     */
    public static Probe probeMode(boolean userModeOnly) {
        long fd = syscall(Fd.O_CLOEXEC | Fd.O_NONBLOCK | (userModeOnly ? USER_MODE_ONLY : 0));
        if (fd < 0) {
            int errno = (int) -fd;
            String why = errno == Errno.EPERM && !userModeOnly
                    ? "needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1 (here " + UffdFeatures.unprivilegedSysctl() + ")"
                    : errno == Errno.EINVAL && userModeOnly ? "the kernel has no UFFD_USER_MODE_ONLY (Linux 5.11+)"
                    : errno == Errno.ENOSYS ? "the kernel has no userfaultfd (CONFIG_USERFAULTFD) or a seccomp filter hides it"
                    : "refused";
            return new Probe(false, userModeOnly, 0, 0, why + " (userfaultfd gave " + Errno.name(errno) + ")");
        }
        MemorySegment api = Fd.scratch();
        api.set(JAVA_LONG, 0, UFFD_API);
        api.set(JAVA_LONG, 8, UffdFeatures.MONITOR);
        api.set(JAVA_LONG, 16, 0L);
        int errno = ioctl((int) fd, UFFDIO_API, api.address());
        Fd.close((int) fd);
        return errno == 0 ? new Probe(true, userModeOnly, api.get(JAVA_LONG, 8), api.get(JAVA_LONG, 16), "")
                : new Probe(false, userModeOnly, 0, 0, UffdDiagnosis.apiFailure(errno, UffdFeatures.MONITOR)
                        + " (ioctl(UFFDIO_API) gave " + Errno.name(errno) + ")");
    }

    /** The descriptor, to poll for {@link Poll#POLLIN}. */
    public int fd() {
        return fd;
    }

    /** True when opened with {@link #USER_MODE_ONLY}. */
    public boolean userModeOnly() {
        return userModeOnly;
    }

    /** The features requested, and so enabled, at open. */
    public long features() {
        return features;
    }

    /** Every feature the kernel supports, as UFFDIO_API reported it. */
    public long kernelFeatures() {
        return kernelFeatures;
    }

    /** The ioctls this descriptor supports, as UFFDIO_API reported them. */
    public long ioctls() {
        return ioctls;
    }

    /**
     * Registers the page-aligned range for {@code mode} ({@link #MODE_MISSING} | {@link #MODE_WP}
     * | {@link #MODE_MINOR}). Returns the ioctls usable on the range ({@link UffdFeatures}
     * {@code IOCTL_*} bits).
     *
     * <p>Linux 6.18 skips unmapped holes inside the range; older kernels fail with ENOMEM.
     *
     * @throws LinuxException EINVAL (unaligned, nothing mapped in the range, or the mode does
     *         not fit the memory, such as MINOR on anonymous memory), EBUSY (registered with
     *         another userfaultfd)
     */
    public long register(long address, long length, int mode) {
        MemorySegment arg = range(address, length);
        arg.set(JAVA_LONG, 16, Integer.toUnsignedLong(mode));
        arg.set(JAVA_LONG, 24, 0L);
        int errno = ioctl(fd, UFFDIO_REGISTER, arg.address());
        if (errno != 0) {
            throw new LinuxException("ioctl(UFFDIO_REGISTER)", errno, rangeText(address, length)
                    + " mode " + mode);
        }
        return arg.get(JAVA_LONG, 24);
    }

    /** Unregisters the range; parts that were not registered are ignored. */
    public void unregister(long address, long length) {
        int errno = ioctl(fd, UFFDIO_UNREGISTER, range(address, length).address());
        if (errno != 0) {
            throw new LinuxException("ioctl(UFFDIO_UNREGISTER)", errno, rangeText(address, length));
        }
    }

    /**
     * Answers missing-page faults by mapping the zero page over the page-aligned range, then
     * wakes the faulting threads. Returns 0 or the errno, for the reader thread to branch on:
     * EEXIST (a page is already there: call {@link #wake} instead), EAGAIN (the mappings changed
     * meanwhile: read the pending events, then retry), ENOENT/ESRCH (the range or mm is gone).
     */
    public int tryZeropage(long address, long length) {
        MemorySegment arg = range(address, length);
        arg.set(JAVA_LONG, 16, 0L); // mode 0: wake the faulting threads
        arg.set(JAVA_LONG, 24, 0L);
        return ioctl(fd, UFFDIO_ZEROPAGE, arg.address());
    }

    /** Like {@link #tryZeropage} but throws {@link LinuxException}; returns the bytes zeroed. */
    public long zeropage(long address, long length) {
        int errno = tryZeropage(address, length);
        if (errno != 0) {
            throw new LinuxException("ioctl(UFFDIO_ZEROPAGE)", errno, rangeText(address, length));
        }
        return Fd.scratch().get(JAVA_LONG, 24);
    }

    /**
     * {@code UFFDIO_WRITEPROTECT} of the page-aligned range: {@code mode} 1 protects it, 0 lifts
     * the protection (and changes nothing on memory never protected). Returns 0 or the errno,
     * without allocating: EAGAIN while an unmap, remap or remove of registered memory is being
     * delivered (the kernel's {@code mmap_changing}), ENOENT when part of the range is not
     * registered with this userfaultfd in write-protect mode (unmapped, or a fresh mapping).
     */
    public int tryWriteProtect(long address, long length, long mode) {
        MemorySegment arg = range(address, length);
        arg.set(JAVA_LONG, 16, mode);
        return ioctl(fd, UFFDIO_WRITEPROTECT, arg.address());
    }

    /** Wakes threads waiting on faults in the range (after resolving them some other way). */
    public void wake(long address, long length) {
        int errno = ioctl(fd, UFFDIO_WAKE, range(address, length).address());
        if (errno != 0) {
            throw new LinuxException("ioctl(UFFDIO_WAKE)", errno, rangeText(address, length));
        }
    }

    /**
     * Reads as many pending {@code uffd_msg} records as fit into {@code buffer} (a native
     * segment, {@link UffdMessage#SIZE} bytes per record) without blocking. Returns how many
     * were read, 0 when none is pending. Reading an event is what releases the thread that
     * caused it. Allocation free.
     *
     * @throws IllegalArgumentException when the buffer is not native or holds no record
     */
    public int readEvents(MemorySegment buffer) {
        long capacity = buffer.byteSize() / UffdMessage.SIZE;
        if (!buffer.isNative() || capacity == 0) {
            throw new IllegalArgumentException("need a native buffer of at least one uffd_msg");
        }
        ensureOpen();
        long result = Fd.read(fd, buffer.address(), capacity * UffdMessage.SIZE);
        if (result >= 0) {
            return (int) (result / UffdMessage.SIZE);
        }
        if (result == -Errno.EAGAIN || result == -Errno.EINTR) {
            return 0;
        }
        throw new LinuxException("read", (int) -result, "userfaultfd");
    }

    /** Closes the descriptor, releasing blocked threads; later calls do nothing. */
    @Override
    public void close() {
        Fd.closeOnce(closed, fd, "userfaultfd");
    }

    /**
     * Hands the descriptor to a caller that closes it itself (native code that must close it
     * without returning to Java first): from here on this object acts as closed and never closes
     * the number.
     *
     * @return the descriptor, or -1 when it was closed or handed off already
     */
    public int handOff() {
        return closed.compareAndSet(false, true) ? fd : -1;
    }

    private MemorySegment range(long address, long length) {
        ensureOpen();
        MemorySegment arg = Fd.scratch();
        arg.set(JAVA_LONG, 0, address);
        arg.set(JAVA_LONG, 8, length);
        return arg;
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("userfaultfd " + fd + " is closed");
        }
    }

    private static long syscall(int flags) {
        MemorySegment state = Native.callState();
        long result;
        try {
            result = (long) SYSCALL.invokeExact(state, SYS_USERFAULTFD, (long) flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -Native.errno(state);
    }

    private static int ioctl(int fd, long request, long argument) {
        MemorySegment state = Native.callState();
        int result;
        try {
            result = (int) IOCTL.invokeExact(state, fd, request, argument);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result == 0 ? 0 : Native.errno(state);
    }

    private static boolean outOfDescriptors(int errno) {
        return errno == Errno.EMFILE || errno == Errno.ENFILE;
    }

    /** What the kernel supports, asked through a fresh descriptor; -1 when that fails too. */
    static long supportedFeatures() {
        long fd = syscall(Fd.O_CLOEXEC | Fd.O_NONBLOCK | USER_MODE_ONLY);
        fd = fd >= 0 ? fd : syscall(Fd.O_CLOEXEC | Fd.O_NONBLOCK);
        if (fd < 0) {
            return -1;
        }
        MemorySegment api = Fd.scratch();
        api.set(JAVA_LONG, 0, UFFD_API);
        api.set(JAVA_LONG, 8, 0L);
        int errno = ioctl((int) fd, UFFDIO_API, api.address());
        long supported = api.get(JAVA_LONG, 8);
        Fd.close((int) fd);
        return errno == 0 ? supported : -1;
    }

    private static String rangeText(long address, long length) {
        return String.format("[0x%x, +%d)", address, length);
    }
}
