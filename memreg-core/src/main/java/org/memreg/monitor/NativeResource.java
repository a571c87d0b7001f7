package org.memreg.monitor;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.SymbolLookup;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Loads a C library that the build compiled from {@code src/main/native} into this package:
 * in place from a classes directory, and from a jar through a private temporary copy that is
 * deleted once loaded.
 */
final class NativeResource {
    /** Loads a library file; how depends on the library (UCX's environment first, or none). */
    @FunctionalInterface
    interface Loader {
        SymbolLookup load(Path library) throws IOException;
    }

    private NativeResource() {
    }

    /**
     * Finds {@code resource} next to this class and loads it with {@code loader}.
     *
     * @throws IllegalStateException when the build did not make it
     */
    static SymbolLookup load(String resource, Loader loader) throws IOException {
        URL url = NativeResource.class.getResource(resource);
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
