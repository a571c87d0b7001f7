package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import org.memreg.ucx.UcxLibraries;
import org.memreg.util.NativeResource;

/**
 * memreg's libucm event handler ({@code src/main/native/memreg_hooks.c}), which the build
 * compiles into this package as {@value #RESOURCE}; loaded once per process through
 * {@link UcxLibraries} (libucs first, in memreg's UCX environment), by {@link NativeResource}.
 *
 * <p>The layout of the {@code struct memreg_hooks} that C and Java share comes from the library
 * itself ({@code memreg_hooks_layout}), so the two cannot disagree. When the library cannot be
 * loaded, {@link #unavailableReason()} says why and every handle is null.
 */
final class HookLibrary {
    static final String RESOURCE = "libmemreg-hooks.so";
    private static final NativeResource LIBRARY = NativeResource.load(HookLibrary.class, RESOURCE, UcxLibraries::load);
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_hooks_install",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle REMOVE = LIBRARY.downcall("memreg_hooks_remove", FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle TEST = LIBRARY.downcall("memreg_hooks_test", FunctionDescriptor.of(JAVA_INT));
    private static final long[] LAYOUT = LIBRARY.layout("memreg_hooks_layout", 21);

    /** Shared layout, in the order of {@code memreg_hooks_layout}. */
    static final long SIZE = LAYOUT[0];
    static final long SEQUENCE = LAYOUT[1];
    static final long HEAD = LAYOUT[2];
    static final long OVERFLOWS = LAYOUT[3];
    static final long OVERFLOW = LAYOUT[4];
    static final long TAIL = LAYOUT[5];
    static final long CALLS = LAYOUT[6];
    static final long PROBE_START = LAYOUT[7];
    static final long PROBE_END = LAYOUT[8];
    static final long PROBE_HITS = LAYOUT[9];
    static final long HIGH_WATCHES = LAYOUT[10];
    static final long L1 = LAYOUT[11];
    static final long RING = LAYOUT[12];
    static final long SLOT_SIZE = LAYOUT[13];
    static final long SLOT_START = LAYOUT[14];
    static final long SLOT_END = LAYOUT[15];
    static final long RING_SLOTS = LAYOUT[16];
    static final int GRANULE_SHIFT = (int) LAYOUT[17];
    static final int L2_BITS = (int) LAYOUT[18];
    static final int L1_SLOTS = (int) LAYOUT[19];
    static final long TABLE_LIMIT = LAYOUT[20];

    /** UCS_ERR_UNSUPPORTED, what ucm_set_event_handler returns when UCM's events are off. */
    private static final int UNSUPPORTED = -22;

    private HookLibrary() {
    }

    /** Why the handler library cannot be used here, or null when it can. */
    static String unavailableReason() {
        return LIBRARY.unavailableReason();
    }

    /** Adds the handler for the struct at {@code state}; returns null or why UCM refused. */
    static String install(long state) {
        int status;
        try {
            status = (int) INSTALL.invokeExact(state);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (status == 0) {
            return null;
        }
        return status == UNSUPPORTED
                ? "UCM's memory events are off (UCX_MEM_EVENTS=no or UCX_MEM_MMAP_HOOK_MODE=none in the environment)"
                : "ucm_set_event_handler returned " + status;
    }

    /** Removes the handler for {@code state}; once this returns no thread runs it for that struct. */
    static void remove(long state) {
        try {
            REMOVE.invokeExact(state);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** UCM's own test of its VM_UNMAPPED hooks: 0 when they fire. */
    static int test() {
        try {
            return (int) TEST.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
