package org.memreg.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A PSI trigger on {@code /proc/pressure/memory}: its {@link #fd()} polls {@link Poll#POLLPRI}
 * once tasks stalled on memory for more than {@code stallMicros} within a {@code windowMicros}
 * window (at most one notification per window). {@link Poll#POLLERR} means the trigger is gone.
 *
 * <p>Kernel rules (Linux 6.5+, {@code kernel/sched/psi.c}), all refused with EINVAL: the window
 * is 1 µs..10 s (before 6.5: 500 ms..10 s) and the stall 1 µs..window; a process without
 * CAP_SYS_RESOURCE <em>when it opened the file</em> is "unprivileged" and its window must be a
 * multiple of 2 s (such triggers are checked by the 2-second averaging work instead of an RT
 * kernel thread). Root here lacks CAP_SYS_RESOURCE, so e.g. {@code "some 150000 1000000"} is
 * refused and {@code "some 150000 2000000"} works. One trigger per descriptor.
 */
public final class PressureTrigger implements AutoCloseable {
    /** Longest window the kernel accepts, in µs. */
    public static final long MAX_WINDOW_MICROS = 10_000_000;
    /** Unprivileged windows must be a multiple of this, in µs. */
    public static final long UNPRIVILEGED_WINDOW_STEP_MICROS = 2_000_000;

    static final String NO_PSI = "/proc/pressure/memory is missing: kernel without CONFIG_PSI, "
            + "or booted with psi=0";
    private static final int CAP_SYS_RESOURCE = 24;

    private final int fd;
    private final String trigger;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Which stall to watch: some task stalled, or all non-idle tasks at once. */
    public enum Kind {
        /** At least one task stalled. */
        SOME,
        /** All non-idle tasks stalled at once. */
        FULL
    }

    private PressureTrigger(int fd, String trigger) {
        this.fd = fd;
        this.trigger = trigger;
    }

    /**
     * Opens {@code /proc/pressure/memory} (O_RDWR | O_NONBLOCK | O_CLOEXEC) and writes the trigger
     * {@code "<some|full> <stallMicros> <windowMicros>"}.
     *
     * @throws NotAvailableException when the kernel has no PSI, or may not be written (EACCES)
     * @throws LinuxException when the kernel refuses the trigger (EINVAL; the message gives the
     *         rules and whether this process counts as privileged)
     */
    public static PressureTrigger memory(Kind kind, long stallMicros, long windowMicros) {
        String line = kind.name().toLowerCase(Locale.ROOT) + " " + stallMicros + " " + windowMicros;
        int fd = Fd.open(MemoryPressure.PATH.toString(), Fd.O_RDWR | Fd.O_NONBLOCK | Fd.O_CLOEXEC);
        if (fd == -Errno.ENOENT) {
            throw new NotAvailableException("PSI", "open", Errno.ENOENT, NO_PSI);
        }
        if (fd == -Errno.EACCES || fd == -Errno.EPERM) {
            throw new NotAvailableException("PSI", "open", -fd,
                    MemoryPressure.PATH + " is not writable by this process");
        }
        if (fd < 0) {
            throw new LinuxException("open", -fd, MemoryPressure.PATH.toString());
        }
        long written;
        try (Arena arena = Arena.ofConfined()) {
            // Include the NUL: psi_write() overwrites the last byte written with one.
            MemorySegment text = arena.allocateFrom(line);
            written = Fd.write(fd, text.address(), text.byteSize());
        }
        if (written < 0) {
            Fd.close(fd);
            int errno = (int) -written;
            if (errno == Errno.EOPNOTSUPP) {
                throw new NotAvailableException("PSI", "write", errno, NO_PSI);
            }
            throw new LinuxException("write", errno, "PSI trigger \"" + line + "\" refused; "
                    + rules());
        }
        return new PressureTrigger(fd, line);
    }

    /** True when this process has CAP_SYS_RESOURCE, so any window up to 10 s is accepted. */
    public static boolean privileged() {
        return (ProcStatus.effectiveCapabilities() & (1L << CAP_SYS_RESOURCE)) != 0;
    }

    /** The descriptor, to poll for {@link Poll#POLLPRI}. */
    public int fd() {
        return fd;
    }

    /** The trigger line written, such as {@code "some 150000 2000000"}. */
    public String trigger() {
        return trigger;
    }

    /** Closes the descriptor, removing the trigger; later calls do nothing. */
    @Override
    public void close() {
        Fd.closeOnce(closed, fd, "PSI trigger");
    }

    private static String rules() {
        return "the window must be 1 µs..10 s and the stall 1 µs..window"
                + (privileged() ? "" : "; without CAP_SYS_RESOURCE (as here) the window must be "
                        + "a multiple of 2 s");
    }
}
