package org.memreg.monitor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongUnaryOperator;
import org.memreg.config.Settings;
import org.memreg.linux.EventFd;
import org.memreg.linux.LinuxException;
import org.memreg.linux.NotAvailableException;
import org.memreg.linux.Poll;
import org.memreg.linux.PressureTrigger;

/**
 * Gives pinned memory back when the system is short of it (R7; shared/seeds/000: "a cache that
 * lets the kernel take back pinned pages it does not need"): a Linux PSI trigger on
 * {@code /proc/pressure/memory} wakes a thread, which calls the trim function, normally
 * {@code cache::trim}, so the cache deregisters unused registrations, least recently used first.
 * Registrations in use are never touched.
 *
 * <table>
 *   <caption>Settings (builder, else property, else default)</caption>
 *   <tr><th>setter</th><th>property</th><th>default</th></tr>
 *   <tr><td>{@link Builder#stallMicros}</td><td>{@value #STALL_PROP_NAME}</td>
 *       <td>{@value #STALL_DEFAULT} µs of "some" memory stall ...</td></tr>
 *   <tr><td>{@link Builder#windowMicros}</td><td>{@value #WINDOW_PROP_NAME}</td>
 *       <td>... within {@value #WINDOW_DEFAULT} µs (a multiple of 2 s unless the process has
 *       CAP_SYS_RESOURCE)</td></tr>
 *   <tr><td>{@link Builder#trimBytes}</td><td>{@value #TRIM_PROP_NAME}</td>
 *       <td>everything unused</td></tr>
 * </table>
 */
public final class PressureWatcher implements AutoCloseable {
    /** Memory stall (µs within the window) that counts as pressure. */
    public static final String STALL_PROP_NAME = "memreg.pressure.stallMicros";
    /** Default of {@link #STALL_PROP_NAME}: 10% of the window. */
    public static final long STALL_DEFAULT = 200_000;
    /** The PSI window in µs. */
    public static final String WINDOW_PROP_NAME = "memreg.pressure.windowMicros";
    /** Default of {@link #WINDOW_PROP_NAME}. */
    public static final long WINDOW_DEFAULT = 2_000_000;
    /** Bytes to give back per trigger (sizes like {@code 256m}). */
    public static final String TRIM_PROP_NAME = "memreg.pressure.trimBytes";
    /** Default of {@link #TRIM_PROP_NAME}: every unused registration. */
    public static final long TRIM_DEFAULT = Long.MAX_VALUE;

    private final LongUnaryOperator trim;
    private final long trimBytes;
    private final PressureTrigger trigger;
    private final EventFd wakeup;
    private final Thread thread;
    private final AtomicLong triggers = new AtomicLong();
    private final AtomicLong bytesReleased = new AtomicLong();
    private volatile boolean closing;

    private PressureWatcher(Builder builder, PressureTrigger trigger) {
        this.trim = builder.trim;
        this.trimBytes = builder.trimBytes;
        this.trigger = trigger;
        this.wakeup = EventFd.open();
        this.thread = Thread.ofPlatform().daemon().name("memreg-pressure").start(this::watch);
    }

    /** Starts configuring a watcher that calls {@code trim} (such as {@code cache::trim}). */
    public static Builder builder(LongUnaryOperator trim) {
        return new Builder(trim);
    }

    private void watch() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfds = Poll.allocate(arena, 2);
            Poll.set(pollfds, 0, trigger.fd(), Poll.POLLPRI);
            Poll.set(pollfds, 1, wakeup.fd(), Poll.POLLIN);
            while (!closing) {
                Poll.poll(pollfds, 2, -1);
                int events = Poll.revents(pollfds, 0);
                if (closing || (events & (Poll.POLLERR | Poll.POLLNVAL)) != 0) {
                    break; // closed, or the trigger is gone
                }
                if ((events & Poll.POLLPRI) != 0) {
                    onPressure();
                }
            }
        } catch (RuntimeException e) {
            System.getLogger(PressureWatcher.class.getName()).log(System.Logger.Level.ERROR,
                    "memory pressure watcher stopped", e);
        }
    }

    /**
     * What a PSI trigger does: gives back up to the configured bytes of unused registrations.
     * Public so that an application with its own signal of memory pressure can call it too.
     *
     * @return the bytes given back
     */
    public long onPressure() {
        long released = trim.applyAsLong(trimBytes);
        triggers.incrementAndGet();
        bytesReleased.addAndGet(released);
        return released;
    }

    /** How often pressure was signalled. */
    public long triggers() {
        return triggers.get();
    }

    /** Bytes of registrations given back because of pressure. */
    public long bytesReleased() {
        return bytesReleased.get();
    }

    /** The PSI trigger line in force, such as {@code "some 200000 2000000"}. */
    public String trigger() {
        return trigger.trigger();
    }

    /** Stops the thread and removes the trigger; closing twice is harmless. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        wakeup.signal();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        trigger.close();
        wakeup.close();
    }

    /** Settings of a {@link PressureWatcher}. */
    public static final class Builder {
        private final LongUnaryOperator trim;
        // null: read from the property in start(), else its default
        private Long stallMicros;
        private Long windowMicros;
        private Long trimBytes;

        private Builder(LongUnaryOperator trim) {
            this.trim = Objects.requireNonNull(trim, "trim");
        }

        /** Stall time within the window that counts as pressure, in µs. */
        public Builder stallMicros(long micros) {
            this.stallMicros = micros;
            return this;
        }

        /** The PSI window in µs (a multiple of 2 s without CAP_SYS_RESOURCE; at most 10 s). */
        public Builder windowMicros(long micros) {
            this.windowMicros = micros;
            return this;
        }

        /** Bytes to give back per trigger; {@code Long.MAX_VALUE}: every unused registration. */
        public Builder trimBytes(long bytes) {
            this.trimBytes = bytes;
            return this;
        }

        /**
         * Reads the properties of what was not set, installs the trigger and starts watching.
         *
         * @throws IllegalArgumentException for a stall outside 1 µs..window, or a window outside
         *     1 µs..10 s, or a negative trim, or a property that is not a number
         * @throws MonitorUnavailableException where the kernel has no PSI, or refuses the trigger
         *     (the reason says why, e.g. an unprivileged window that is not a multiple of 2 s)
         */
        public PressureWatcher start() {
            stallMicros = Settings.orElse(stallMicros, () -> Settings.longValue(STALL_PROP_NAME, STALL_DEFAULT));
            windowMicros = Settings.orElse(windowMicros, () -> Settings.longValue(WINDOW_PROP_NAME, WINDOW_DEFAULT));
            trimBytes = Settings.orElse(trimBytes, () -> Settings.bytes(TRIM_PROP_NAME, TRIM_DEFAULT));
            if (windowMicros < 1 || windowMicros > PressureTrigger.MAX_WINDOW_MICROS) {
                throw new IllegalArgumentException(WINDOW_PROP_NAME + " must be 1..10000000 µs: " + windowMicros);
            }
            if (stallMicros < 1 || stallMicros > windowMicros) {
                throw new IllegalArgumentException(STALL_PROP_NAME + " must be 1.." + windowMicros + " µs: " + stallMicros);
            }
            if (trimBytes < 0) {
                throw new IllegalArgumentException(TRIM_PROP_NAME + " must not be negative: " + trimBytes);
            }
            PressureTrigger trigger;
            try {
                trigger = PressureTrigger.memory(PressureTrigger.Kind.SOME, stallMicros, windowMicros);
            } catch (NotAvailableException e) {
                throw new MonitorUnavailableException(e.facility(), e.reason(), e.errno(), e);
            } catch (LinuxException e) {
                throw new MonitorUnavailableException("PSI", e.getMessage(), e.errno(), e);
            }
            try {
                return new PressureWatcher(this, trigger);
            } catch (RuntimeException e) {
                trigger.close();
                throw e;
            }
        }
    }
}
