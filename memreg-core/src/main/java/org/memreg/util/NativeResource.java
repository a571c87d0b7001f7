package org.memreg.util;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A C library that the build compiled from {@code src/main/native} into the package of the class
 * that uses it, loaded in place from a classes directory, and from a jar through a private
 * temporary copy that is deleted once loaded. When it cannot be loaded,
 * {@link #unavailableReason()} says why, every handle is null and every layout value 0.
 */
public final class NativeResource {
    /** Loads a library file; how depends on the library (UCX's environment first, or none). */
    @FunctionalInterface
    public interface Loader {
        SymbolLookup load(Path library) throws IOException;
    }

    private final String resource;
    private final SymbolLookup lookup;
    private final String unavailable;

    private NativeResource(String resource, SymbolLookup lookup, String unavailable) {
        this.resource = resource;
        this.lookup = lookup;
        this.unavailable = unavailable;
    }

    /**
     * Finds {@code resource} next to {@code user} (in its package) and loads it with
     * {@code loader}; never throws. A loader's own exception other than I/O says in its message
     * why (e.g. no UCX here).
     */
    public static NativeResource load(Class<?> user, String resource, Loader loader) {
        try {
            return new NativeResource(resource, find(user, resource, loader), null);
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            return new NativeResource(resource, null, "cannot load " + resource + ": " + e.getMessage());
        } catch (RuntimeException e) {
            return new NativeResource(resource, null, e.getMessage());
        }
    }

    /** Why the library cannot be used here, or null when it can. */
    public String unavailableReason() {
        return unavailable;
    }

    /** A downcall handle of the library's function {@code name}, or null when it did not load. */
    @SuppressWarnings("restricted") // our own libraries; the descriptors follow their C
    public MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        if (lookup == null) {
            return null;
        }
        return Linker.nativeLinker().downcallHandle(lookup.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError(resource + " has no function " + name)), descriptor);
    }

    /**
     * The values {@code 0 .. count-1} of the library's layout function ({@code int64_t f(int)}:
     * sizes and offsets of the structs it shares with Java), so that C and Java cannot disagree.
     */
    public long[] layout(String function, int count) {
        long[] values = new long[count];
        MethodHandle layout = downcall(function, FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
        for (int i = 0; layout != null && i < count; i++) {
            try {
                values[i] = (long) layout.invokeExact(i);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }
        return values;
    }

    private static SymbolLookup find(Class<?> user, String resource, Loader loader) throws IOException {
        URL url = user.getResource(resource);
        if (url == null) {
            throw new IllegalStateException("it was not built: bin/test and bin/memreg build it with gcc"
                    + " from memreg-core/src/main/native");
        }
        if (url.getProtocol().equals("file")) {
            try {
                return loader.load(Path.of(url.toURI()));
            } catch (URISyntaxException e) {
                throw new IOException(e);
            }
        }
        Path dir = Files.createTempDirectory("memreg-native",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path copy = dir.resolve(resource);
        try (InputStream in = url.openStream()) {
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            return loader.load(copy); // mapped now: the file may go
        } finally {
            Files.deleteIfExists(copy);
            Files.deleteIfExists(dir);
        }
    }
}
