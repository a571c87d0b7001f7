package org.memreg.monitor;

import java.util.Locale;

/**
 * The memory monitors a cache can have ({@code memreg.cache.monitor}), with what each
 * guarantees; the README's guarantee table says the same with measured costs.
 */
public enum MonitorMode {
    /** {@code hooks+userfaultfd} where the hooks work, else the best of the others (logged and counted). */
    AUTO("auto", "hooks+userfaultfd where both work, else userfaultfd, hooks or none (logged)"),
    /** Hooks alone. */
    HOOKS("hooks", "unmaps through libc seen before they happen, from any thread; raw syscalls missed"),
    /** userfaultfd alone. */
    USERFAULTFD("userfaultfd", "every unmap seen after it happens; another thread may reuse the address first"),
    /** Both. */
    HOOKS_AND_USERFAULTFD("hooks+userfaultfd", "libc unmaps before they happen, raw syscalls after"),
    /** userfaultfd and the kernel asked on every hit. */
    STRICT("strict", "userfaultfd, and the kernel asked on every hit (a system call per hit); no hooks"),
    /** Nothing: explicit invalidation only. */
    NONE("none", "nothing: only invalidate() and memreg-allocated memory");

    private final String label;
    private final String guarantee;

    MonitorMode(String label, String guarantee) {
        this.label = label;
        this.guarantee = guarantee;
    }

    /** The setting's value, such as {@code hooks+userfaultfd}. */
    public String label() {
        return label;
    }

    /** One line: what the mode catches and what it does not. */
    public String guarantee() {
        return guarantee;
    }

    /**
     * The mode a setting names (case and spaces ignored; {@code uffd} for {@code userfaultfd},
     * {@code off} or {@code false} for {@code none}).
     *
     * @throws IllegalArgumentException for anything else, naming {@code what} and the choices
     */
    public static MonitorMode parse(String name, String what) {
        String key = name.strip().toLowerCase(Locale.ROOT).replace("uffd", "userfaultfd");
        for (MonitorMode mode : values()) {
            if (mode.label.equals(key)) {
                return mode;
            }
        }
        if (key.equals("off") || key.equals("false")) {
            return NONE;
        }
        throw new IllegalArgumentException(what + "=" + name
                + " is not auto, hooks, userfaultfd, hooks+userfaultfd, strict or none");
    }
}
