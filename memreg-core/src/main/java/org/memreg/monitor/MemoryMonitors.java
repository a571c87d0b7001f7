package org.memreg.monitor;

import java.util.Locale;
import org.memreg.linux.NotAvailableException;

/** Makes the monitor a setting names: {@code auto}, {@code userfaultfd} or {@code none}. */
public final class MemoryMonitors {
    private static final System.Logger LOG = System.getLogger(MemoryMonitors.class.getName());

    private MemoryMonitors() {
    }

    private static volatile boolean loggedUnavailable;

    private static MemoryMonitor userfaultfdOrNone() {
        try {
            return UserfaultfdMonitor.open();
        } catch (NotAvailableException e) {
            if (!loggedUnavailable) {
                loggedUnavailable = true;
                LOG.log(System.Logger.Level.WARNING, "memory monitor off: " + e.getMessage()
                        + ". The cache then learns of unmapped or remapped memory only through invalidate()"
                        + " and memreg-allocated memory (RegisteredArena); a buffer freed and reallocated"
                        + " behind its back may get a stale registration.");
            }
            return MemoryMonitor.NONE;
        }
    }

    /** The monitor the system property {@code property} names (default {@code auto}). */
    public static MemoryMonitor fromProperty(String property) {
        return named(System.getProperty(property, "auto"), property);
    }

    /**
     * The monitor {@code name} names. {@code auto} gives the userfaultfd monitor where the kernel
     * allows it and otherwise logs why not and gives {@link MemoryMonitor#NONE}.
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws NotAvailableException for {@code userfaultfd} where it is unavailable
     */
    public static MemoryMonitor named(String name, String what) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "none", "off", "false" -> MemoryMonitor.NONE;
            case "auto" -> userfaultfdOrNone();
            case "userfaultfd", "uffd" -> UserfaultfdMonitor.open();
            default -> throw new IllegalArgumentException(what + "=" + name + " is not auto, userfaultfd or none");
        };
    }
}
