package org.memreg.monitor;

import java.util.ArrayList;
import java.util.List;

/**
 * Makes the monitor a setting names ({@link MonitorMode}: {@code auto}, {@code hooks},
 * {@code userfaultfd}, {@code hooks+userfaultfd}, {@code strict}, {@code none}), and says which
 * of them work here ({@link #support()}).
 */
public final class MemoryMonitors {
    private static final System.Logger LOG = System.getLogger(MemoryMonitors.class.getName());
    private static volatile boolean loggedNoHooks;
    private static volatile boolean loggedNone;

    private MemoryMonitors() {
    }

    /** The monitor the system property {@code property} names (default {@code auto}). */
    public static MemoryMonitor fromProperty(String property) {
        return named(System.getProperty(property, "auto"), property);
    }

    /**
     * The monitor {@code name} names ({@code what} names the setting in error messages).
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws MonitorUnavailableException for a mode other than {@code auto} and {@code none} that
     *     does not work here; the reason says why
     */
    public static MemoryMonitor named(String name, String what) {
        return open(MonitorMode.parse(name, what));
    }

    /**
     * Opens a monitor of {@code mode}. {@code auto} gives {@code hooks+userfaultfd} where both
     * work; where the hooks do not, userfaultfd alone, with a log line and
     * {@link MonitorStats#hookFailures()} at 1; where userfaultfd does not, the hooks alone; where
     * neither does, {@link MemoryMonitor#NONE}, with a log line.
     *
     * @throws MonitorUnavailableException for a mode other than {@code auto} and {@code none} that
     *     does not work here
     */
    public static MemoryMonitor open(MonitorMode mode) {
        return switch (mode) {
            case NONE -> MemoryMonitor.NONE;
            case HOOKS -> HookMonitor.open();
            case USERFAULTFD -> UserfaultfdMonitor.open();
            case STRICT -> UserfaultfdMonitor.openStrict();
            case HOOKS_AND_USERFAULTFD -> pair(HookMonitor.open());
            case AUTO -> auto();
        };
    }

    private static MemoryMonitor pair(HookMonitor hooks) {
        try {
            return new MonitorPair(hooks, UserfaultfdMonitor.open());
        } catch (RuntimeException e) {
            hooks.close();
            throw e;
        }
    }

    private static MemoryMonitor auto() {
        HookMonitor hooks = null;
        String noHooks = null;
        try {
            hooks = HookMonitor.open();
        } catch (MonitorUnavailableException e) {
            noHooks = e.reason();
        }
        UserfaultfdMonitor uffd;
        try {
            uffd = UserfaultfdMonitor.open();
        } catch (MonitorUnavailableException e) {
            if (hooks != null) {
                return hooks; // the backstop for raw system calls is missing; hooks still close the window
            }
            if (!loggedNone) {
                loggedNone = true;
                LOG.log(System.Logger.Level.WARNING, "memory monitor off: " + e.getMessage() + "; memory hooks: "
                        + noHooks + ". The cache then learns of unmapped or remapped memory only through"
                        + " invalidate() and memreg-allocated memory (RegisteredArena); a buffer freed and"
                        + " reallocated behind its back may get a stale registration.");
            }
            return MemoryMonitor.NONE;
        }
        if (hooks != null) {
            return new MonitorPair(hooks, uffd);
        }
        uffd.countHookFailure();
        if (!loggedNoHooks) {
            loggedNoHooks = true;
            LOG.log(System.Logger.Level.WARNING, "memory hooks unavailable: " + noHooks + ". The cache uses"
                    + " userfaultfd alone, which hears of an unmap only after it: a thread that maps memory"
                    + " another thread is unmapping may get the old registration (see README, monitors).");
        }
        return uffd;
    }

    /**
     * Which modes work in this process and why not: opens each and closes it again. Loads
     * OpenUCX and installs UCM's hooks in this process when they can be.
     */
    public static List<MonitorSupport> support() {
        List<MonitorSupport> modes = new ArrayList<>();
        for (MonitorMode mode : MonitorMode.values()) {
            try (MemoryMonitor monitor = open(mode)) {
                List<String> details = new ArrayList<>();
                if (mode == MonitorMode.AUTO) {
                    details.add("uses " + monitor.name());
                }
                if (monitor.name().startsWith("hooks")) {
                    HookMonitor.caveat().ifPresent(details::add);
                }
                modes.add(new MonitorSupport(mode, true, String.join("; ", details)));
            } catch (MonitorUnavailableException e) {
                modes.add(new MonitorSupport(mode, false, e.reason()));
            }
        }
        return modes;
    }
}
