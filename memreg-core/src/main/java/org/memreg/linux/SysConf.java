package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** {@code sysconf} values memreg needs; read once. */
public final class SysConf {
    private static final int SC_PAGESIZE = 30;
    private static final long PAGE_SIZE;

    static {
        MethodHandle sysconf = Native.call("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
        try {
            PAGE_SIZE = (long) sysconf.invokeExact(SC_PAGESIZE);
        } catch (Throwable t) {
            throw new ExceptionInInitializerError(t);
        }
    }

    private SysConf() {
    }

    /** The base page size in bytes ({@code sysconf(_SC_PAGESIZE)}), 4096 on x86-64. */
    public static long pageSize() {
        return PAGE_SIZE;
    }
}
