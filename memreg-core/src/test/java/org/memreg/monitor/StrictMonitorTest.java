package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;

/**
 * Strict mode: userfaultfd, and the kernel asked on every hit ({@code UFFDIO_WRITEPROTECT} mode 0
 * on the registration's first page). It trusts no registration the kernel does not vouch for:
 * memory userfaultfd cannot watch is registered anew on every acquire.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StrictMonitorTest {
    static final long LENGTH = 16 * 4096;

    @Test
    void shouldHitWatchedMemoryAndMissChangedMemory() {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(MonitorMode.STRICT)).build()) {
            assertEquals("strict", cache.monitor().name());
            long address = HookMonitorTest.touched(Mman.mapAnonymous(LENGTH));
            long key;
            try (Registration first = cache.acquire(address, LENGTH, Access.ALL)) {
                key = first.localKey();
            }
            try (Registration again = cache.acquire(address, LENGTH, Access.ALL)) {
                assertEquals(key, again.localKey(), "the kernel vouched: a hit");
            }
            Mman.munmapBypassingLibc(address, LENGTH);
            HookMonitorTest.touched(HookMonitorTest.mapAt(address));
            try (Registration fresh = cache.acquire(address, LENGTH, Access.ALL)) {
                assertNotEquals(key, fresh.localKey(), "new memory: a miss");
            }
            CacheStats stats = cache.stats();
            assertEquals(1, stats.hits());
            assertEquals(2, stats.misses());
            Mman.munmap(address, LENGTH);
        }
    }

    @Test
    void shouldNeverTrustMemoryItCannotWatch() throws IOException {
        // A private mapping of a file on a disk file system (the JDK's own modules file): userfaultfd's
        // write-protect mode takes anonymous memory, shmem and hugetlbfs only. Not a file in /tmp,
        // which is tmpfs (shmem, watchable) in bin/vm-test's guest.
        Path file = Path.of(System.getProperty("java.home"), "lib", "modules");
        assertTrue(Files.size(file) >= LENGTH, file + " is large enough to map");
        try (RandomAccessFile open = new RandomAccessFile(file.toFile(), "r");
             SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(UserfaultfdMonitor.openStrict()).build()) {
            long mapped = Mman.mmap(0L, LENGTH, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE,
                    descriptorOf(file), 0L);
            HookMonitorTest.touched(mapped);
            for (int i = 0; i < 3; i++) {
                try (Registration registration = cache.acquire(mapped, LENGTH, Access.ALL)) {
                    assertTrue(registration.isValid());
                }
            }
            CacheStats stats = cache.stats();
            MonitorStats monitor = cache.monitor().stats();
            assertEquals(3, monitor.watchFailures(), "userfaultfd could not watch " + file);
            assertEquals(0, stats.hits(), "the kernel vouches for nothing here");
            assertEquals(3, stats.misses());
            assertEquals(2, monitor.strictRefusals());
            cache.invalidate(mapped, LENGTH);
            Mman.munmap(mapped, LENGTH);
        }
    }

    /** The descriptor number this process has open on {@code file} (found in /proc/self/fd). */
    private static int descriptorOf(Path file) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).equals(file.toRealPath())) {
                        return Integer.parseInt(fd.getFileName().toString());
                    }
                } catch (IOException closedMeanwhile) {
                    // the listing's own descriptor
                }
            }
        }
        throw new IllegalStateException(file + " is not open");
    }
}
