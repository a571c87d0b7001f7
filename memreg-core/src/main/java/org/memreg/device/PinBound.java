package org.memreg.device;

import java.lang.management.ManagementFactory;
import java.util.Objects;
import org.memreg.config.Settings;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.ProcStatus;

/**
 * The most memory an {@link MlockDevice} pins, and where that bound comes from. Pinned memory
 * cannot be swapped or reclaimed, so a process that pins without bound can take a host's memory
 * away from everything else (seed 003). The bound, in order:
 *
 * <ol>
 *   <li>{@link Source#CONFIGURED}: {@link MlockDevice.Builder#pinBudget}, else the system
 *       property {@value MlockDevice#PIN_BUDGET_PROP_NAME}. The kernel's RLIMIT_MEMLOCK still
 *       applies on top where it applies.
 *   <li>{@link Source#RLIMIT_MEMLOCK}: a process without CAP_IPC_LOCK and with a finite
 *       RLIMIT_MEMLOCK (8 MiB on Debian) cannot lock more; the kernel enforces it, memreg adds no
 *       budget of its own ({@link #deviceBudget()} is unlimited).
 *   <li>{@link Source#MEMORY_SHARE}: otherwise nothing in the kernel bounds pinning (root has
 *       CAP_IPC_LOCK, which ignores the limit, or the limit is unlimited), so the device's budget
 *       is a quarter ({@value #MEMORY_SHARE_DIVISOR}th) of the memory the JVM sees: physical
 *       memory, or the container's memory limit when it is lower.
 * </ol>
 *
 * @param bytes  the bound in bytes
 * @param source where it comes from
 */
public record PinBound(long bytes, Source source) {
    /** Where the kernel sets no bound, memory divided by this is pinned at most by default: a quarter. */
    public static final int MEMORY_SHARE_DIVISOR = 4;
    /** {@code CAP_IPC_LOCK}: lock memory past RLIMIT_MEMLOCK. */
    private static final int CAP_IPC_LOCK = 14;

    /** Where a {@link PinBound} comes from. */
    public enum Source {
        /** Set by {@code pinBudget(bytes)} or {@value MlockDevice#PIN_BUDGET_PROP_NAME}. */
        CONFIGURED,
        /** RLIMIT_MEMLOCK, enforced by the kernel (the process lacks CAP_IPC_LOCK). */
        RLIMIT_MEMLOCK,
        /** A quarter of memory: the kernel sets no bound here. */
        MEMORY_SHARE
    }

    public PinBound {
        Objects.requireNonNull(source, "source");
        if (bytes <= 0) {
            throw new IllegalArgumentException("a pin bound must be positive: " + bytes);
        }
    }

    /**
     * The bound for a device made now in this process: {@value MlockDevice#PIN_BUDGET_PROP_NAME}
     * when set, else the default for this process's capabilities, RLIMIT_MEMLOCK and memory.
     *
     * @throws IllegalArgumentException when the property is not a positive size
     */
    public static PinBound current() {
        String configured = System.getProperty(MlockDevice.PIN_BUDGET_PROP_NAME);
        if (configured != null) {
            return new PinBound(Settings.parseBytes(MlockDevice.PIN_BUDGET_PROP_NAME, configured), Source.CONFIGURED);
        }
        boolean ipcLock = (ProcStatus.effectiveCapabilities() & (1L << CAP_IPC_LOCK)) != 0;
        return byDefault(ipcLock, MemoryLock.memlockLimit().soft(), totalMemory());
    }

    /**
     * The default bound for a process with or without CAP_IPC_LOCK, with soft RLIMIT_MEMLOCK
     * {@code softLimit} ({@link MemoryLock#RLIM_INFINITY} for none) and {@code memory} bytes.
     */
    public static PinBound byDefault(boolean ipcLock, long softLimit, long memory) {
        if (!ipcLock && softLimit != MemoryLock.RLIM_INFINITY) {
            return new PinBound(Math.max(softLimit, 1), Source.RLIMIT_MEMLOCK);
        }
        return new PinBound(Math.max(memory / MEMORY_SHARE_DIVISOR, 1), Source.MEMORY_SHARE);
    }

    /** Memory as the JVM sees it: physical memory, or the container's limit when lower. */
    static long totalMemory() {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        return os.getTotalMemorySize();
    }

    /** The budget the device itself checks: {@link #bytes()}, or none when the kernel enforces it. */
    public long deviceBudget() {
        return source == Source.RLIMIT_MEMLOCK ? Long.MAX_VALUE : bytes;
    }

    /** Where the bound comes from, in words, such as "RLIMIT_MEMLOCK, enforced by the kernel (no CAP_IPC_LOCK)". */
    public String description() {
        return switch (source) {
            case CONFIGURED -> "configured (pinBudget or " + MlockDevice.PIN_BUDGET_PROP_NAME + ")";
            case RLIMIT_MEMLOCK -> "RLIMIT_MEMLOCK, enforced by the kernel (no CAP_IPC_LOCK)";
            case MEMORY_SHARE -> "a quarter of memory (" + Settings.formatBytesShort(bytes * MEMORY_SHARE_DIVISOR)
                    + "), memreg's default: with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK the kernel sets no bound";
        };
    }

    /** How to raise the bound, for exception messages and {@code memreg info}. */
    public String howToRaise() {
        return switch (source) {
            case CONFIGURED, MEMORY_SHARE -> "raise it with -D" + MlockDevice.PIN_BUDGET_PROP_NAME
                    + "=SIZE (such as 8g) or MlockDevice.builder().pinBudget(bytes)";
            case RLIMIT_MEMLOCK -> raiseRlimit();
        };
    }

    /** How to raise RLIMIT_MEMLOCK, the kernel's bound for processes without CAP_IPC_LOCK. */
    static String raiseRlimit() {
        return "raise RLIMIT_MEMLOCK (ulimit -l; LimitMEMLOCK= in a systemd unit; memlock in"
                + " /etc/security/limits.conf; docker run --ulimit memlock=...) or give the process CAP_IPC_LOCK";
    }

    @Override
    public String toString() {
        return Settings.formatBytes(bytes) + ": " + description();
    }
}
