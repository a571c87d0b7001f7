package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Mman;
import org.memreg.testkit.Unprivileged;

/**
 * Memory userfaultfd cannot watch (a private mapping of a file on a disk file system: its
 * write-protect mode takes anonymous memory, shmem and hugetlbfs only). Unmapped and mapped
 * again, it must never come back as its old registration: in {@code userfaultfd} mode nothing
 * would see the unmap, so such memory is not cached at all; with the hooks, they see an unmap
 * through libc, so it is cached and missed after the unmap, as any memory.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Unprivileged
class UnwatchableMemoryTest {
    static final long LENGTH = 16 * 4096;
    /** The JDK's own modules file: on a disk file system (not /tmp: tmpfs is shmem, which userfaultfd watches). */
    static final Path FILE = Path.of(System.getProperty("java.home"), "lib", "modules");

    @ParameterizedTest
    @EnumSource(value = MonitorMode.class, names = {"USERFAULTFD", "HOOKS_AND_USERFAULTFD", "STRICT"})
    void memoryUnmappedAndMappedAgainShouldNeverGetItsOldRegistration(MonitorMode mode) throws IOException {
        try (RandomAccessFile open = new RandomAccessFile(FILE.toFile(), "r");
             SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(mode)).build()) {
            long address = mapFile();
            long key;
            try (Registration first = cache.acquire(address, LENGTH, Access.ALL)) {
                key = first.localKey();
                assertTrue(first.isValid());
            }
            boolean cached = mode == MonitorMode.HOOKS_AND_USERFAULTFD;
            CacheStats released = cache.stats();
            assertEquals(cached ? LENGTH : 0, released.registeredBytes(), mode + ": deregistered at its release unless cached");
            assertEquals(0, released.deferredDeregistrations(), mode.toString());
            try (Registration again = cache.acquire(address, LENGTH, Access.ALL)) {
                assertEquals(cached, again.localKey() == key,
                        mode + ": cached only where the hooks watch it");
                key = again.localKey();
            }
            long watchFailures = cache.monitor().stats().watchFailures();
            assertTrue(watchFailures >= 1, mode + ": userfaultfd could not watch " + FILE + " (" + watchFailures + ")");

            Mman.munmap(address, LENGTH);
            HookMonitorTest.touched(HookMonitorTest.mapAt(address));
            try (Registration fresh = cache.acquire(address, LENGTH, Access.ALL)) {
                assertNotEquals(key, fresh.localKey(), mode + ": new memory at the address is a miss");
            }
            assertEquals(cached ? 2 : 3, cache.stats().misses(), mode.toString());
            Mman.munmap(address, LENGTH);
        }
    }

    /** Threads that acquire the same such memory at once each get a registration of their own, and none stays. */
    @Test
    void concurrentAcquiresOfUnwatchableMemoryShouldLeaveNoRegistrationBehind() throws Exception {
        int threads = 4;
        int rounds = 300;
        try (RandomAccessFile open = new RandomAccessFile(FILE.toFile(), "r");
             SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(MonitorMode.USERFAULTFD)).build();
             Arena arena = Arena.ofShared();
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            long address = mapFile();
            MemorySegment data = arena.allocate(LENGTH);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    for (int round = 0; round < rounds; round++) {
                        try (Registration registration = cache.acquire(address, LENGTH, Access.ALL)) {
                            assertTrue(registration.isValid());
                            assertEquals(Transfer.OK, nic.read(registration.localKey(), address, data));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> thread : done) {
                thread.get();
            }
            CacheStats stats = cache.stats();
            assertEquals(0, stats.hits());
            assertEquals(threads * rounds, stats.misses());
            assertEquals(stats.registrations(), stats.deregistrations(), stats.toString());
            assertEquals(0, stats.registeredBytes(), stats.toString());
            assertEquals(0, stats.retiredEntries(), stats.toString());
            Mman.munmap(address, LENGTH);
        }
    }

    /** Maps {@link #FILE} privately (it must be open) and touches every page. */
    private static long mapFile() throws IOException {
        assertTrue(Files.size(FILE) >= LENGTH, FILE + " is large enough to map");
        long address = Mman.mmap(0L, LENGTH, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE,
                descriptorOf(FILE), 0L);
        return HookMonitorTest.touched(address);
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
