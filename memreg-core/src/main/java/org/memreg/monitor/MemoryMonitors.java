package org.memreg.monitor;

import java.util.Locale;

/** Makes the monitor a setting names: {@code auto}, {@code userfaultfd} or {@code none}. */
public final class MemoryMonitors {
    private static final System.Logger LOG = System.getLogger(MemoryMonitors.class.getName());

    private MemoryMonitors() {
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
     * @throws UnsupportedOperationException for {@code userfaultfd} where it is unavailable
     */
    public static MemoryMonitor named(String name, String what) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "none", "off", "false" -> MemoryMonitor.NONE;
            case "auto" -> MemoryMonitor.NONE; // replaced by the userfaultfd monitor once it lands
            case "userfaultfd", "uffd" -> throw new UnsupportedOperationException("userfaultfd monitor: not built yet");
            default -> throw new IllegalArgumentException(what + "=" + name + " is not auto, userfaultfd or none");
        };
    }
}
