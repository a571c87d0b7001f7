package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.ucx.UcxLibraries;
import org.memreg.ucx.UcxUnavailableException;

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
    private static final String UNAVAILABLE;
    private static final MethodHandle INSTALL;
    private static final MethodHandle REMOVE;
    private static final MethodHandle TEST;
    private static final long[] LAYOUT = new long[21];

    static {
        SymbolLookup lookup = null;
        String reason = null;
        try {
            lookup = NativeResource.load(RESOURCE, UcxLibraries::load);
        } catch (UcxUnavailableException e) {
            reason = e.getMessage();
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            reason = "cannot load " + RESOURCE + ": " + e.getMessage();
        }
        UNAVAILABLE = reason;
        INSTALL = handle(lookup, "memreg_hooks_install", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        REMOVE = handle(lookup, "memreg_hooks_remove", FunctionDescriptor.ofVoid(JAVA_LONG));
        TEST = handle(lookup, "memreg_hooks_test", FunctionDescriptor.of(JAVA_INT));
        MethodHandle layout = handle(lookup, "memreg_hooks_layout", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
        for (int i = 0; layout != null && i < LAYOUT.length; i++) {
            try {
                LAYOUT[i] = (long) layout.invokeExact(i);
            } catch (Throwable t) {
                throw new ExceptionInInitializerError(t);
            }
        }
    }

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
        return UNAVAILABLE;
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

    @SuppressWarnings("restricted") // our own library; descriptors follow memreg_hooks.c
    private static MethodHandle handle(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        if (lookup == null) {
            return null;
        }
        return Linker.nativeLinker().downcallHandle(lookup.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError(RESOURCE + " has no function " + name)), descriptor);
    }
}
