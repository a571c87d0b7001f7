package org.memreg.ucx;

import java.lang.foreign.SymbolLookup;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Loading native code of memreg's own that links against OpenUCX (such as the libucm event
 * handler of {@code org.memreg.monitor.HookMonitor}). Every such library goes through here, so
 * that libucs is loaded first and only after memreg prepared UCX's environment: error signals
 * left to the JVM, malloc hooks and UCP's registration cache off (see {@code UcxNative}).
 */
public final class UcxLibraries {
    private UcxLibraries() {
    }

    /**
     * Loads {@code library} (never unloaded) once OpenUCX is loaded.
     *
     * @throws UcxUnavailableException when OpenUCX is not installed; the message says what to install
     * @throws IllegalArgumentException when the library cannot be loaded
     */
    public static SymbolLookup load(Path library) {
        return UcxNative.loadLinked(library);
    }

    /** Why OpenUCX cannot be used here, or empty when it can. */
    public static Optional<String> unavailableReason() {
        return UcxNative.unavailableReason();
    }
}
