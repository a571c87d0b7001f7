package org.memreg.testkit;

/**
 * A system property a test sets (or removes) and then puts back as it was, set or absent, with
 * {@link #close()}: for settings such as {@code memreg.stat.dir} that a test points elsewhere.
 */
public final class SystemProperty implements AutoCloseable {
    private final String name;
    private final String old;

    private SystemProperty(String name, String old) {
        this.name = name;
        this.old = old;
    }

    /** Sets {@code name} to {@code value}, or removes it when {@code value} is null. */
    public static SystemProperty set(String name, String value) {
        return new SystemProperty(name, value == null ? System.clearProperty(name) : System.setProperty(name, value));
    }

    /** Puts the property back as it was before {@link #set}. */
    @Override
    public void close() {
        if (old == null) {
            System.clearProperty(name);
        } else {
            System.setProperty(name, old);
        }
    }
}
