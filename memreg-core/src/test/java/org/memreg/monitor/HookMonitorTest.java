package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.cache.CacheStats;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.testkit.ForwardingDevice;

/**
 * The hook monitor on its own (no userfaultfd): every way libc unmaps is heard of on the
 * unmapping thread before the call returns, unwatched memory is filtered out in C, a full ring
 * turns into "everything changed", a registration raced by an unmap of its range does not stay,
 * and what the hooks cannot see (a raw system call) is seen by userfaultfd in
 * {@code hooks+userfaultfd}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HookMonitorTest {
    static final long PAGE = 4096;
    static final long LENGTH = 16 * PAGE;

    /** Ways to change memory through libc; each returns where the (new) memory is. */
    enum LibcChange {
        MUNMAP(address -> {
            Mman.munmap(address, LENGTH);
            return mapAt(address);
        }),
        MADVISE_DONTNEED(address -> {
            Madvise.madvise(address, LENGTH, Madvise.MADV_DONTNEED);
            return address;
        }),
        MREMAP_GROW(address -> Mman.mremap(address, LENGTH, 2 * LENGTH, Mman.MREMAP_MAYMOVE, 0L)),
        MMAP_FIXED_OVER(address -> Mman.mapAnonymousFixed(address, LENGTH));

        final LongUnaryOperator change;

        LibcChange(LongUnaryOperator change) {
            this.change = change;
        }
    }

    @ParameterizedTest
    @EnumSource(LibcChange.class)
    void shouldHearOfTheChangeOnTheUnmappingThreadAndInvalidateTheHeldRegistration(LibcChange change) {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = hooksOnly(nic)) {
            long address = touched(Mman.mapAnonymous(LENGTH));
            Registration held = cache.acquire(address, LENGTH, Access.ALL);
            assertTrue(held.isValid());
            long moved = change.change.applyAsLong(address);
            assertTrue(cache.monitor().gate().isPending(), change + ": published before the call returned");
            assertFalse(held.isValid(), change + ": the held registration is invalid");
            held.close();
            touched(moved);
            try (Registration fresh = cache.acquire(moved, LENGTH, Access.ALL)) { // mremap may move it
                assertNotEquals(held.localKey(), fresh.localKey(), change + ": a fresh registration");
            }
            CacheStats stats = cache.stats();
            assertEquals(2, stats.misses());
            assertEquals(0, stats.hits());
            assertEquals(1, stats.eventInvalidations());
            assertTrue(cache.monitor().stats().hookEvents() >= 1); // unmaps next to it may add some

            Mman.munmap(moved, change == LibcChange.MREMAP_GROW ? 2 * LENGTH : LENGTH);
        }
    }

    @Test
    void shouldFilterUnmapsOfUnwatchedMemoryInTheHandler() {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = hooksOnly(nic)) {
            long granule = 2L << 20;
            long region = Mman.mapAnonymous(3 * granule); // a whole watched granule, owned neighbours
            long watched = (region + granule - 1) & -granule;
            touched(watched);
            cache.acquire(watched, granule, Access.ALL).close();
            HookMonitor monitor = (HookMonitor) cache.monitor();
            long calls = monitor.handlerCalls();
            for (int i = 0; i < 100; i++) {
                Mman.munmap(touched(Mman.mapAnonymous(LENGTH)), LENGTH);
            }
            assertTrue(monitor.handlerCalls() >= calls + 100, "the handler ran for each unmap");
            assertFalse(monitor.gate().isPending(), "but published none of them");
            assertEquals(0, monitor.stats().hookEvents());
            try (Registration again = cache.acquire(watched, granule, Access.ALL)) {
                assertTrue(again.isValid());
            }
            assertEquals(1, cache.stats().hits());
            Mman.munmap(region, 3 * granule);
        }
    }

    @Test
    void shouldTreatEveryRegistrationAsChangedWhenTheRingOverflows() {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = hooksOnly(nic)) {
            long churned = touched(Mman.mapAnonymous(LENGTH));
            long untouched = touched(Mman.mapAnonymous(LENGTH));
            cache.acquire(churned, LENGTH, Access.ALL).close();
            Registration bystander = cache.acquire(untouched, LENGTH, Access.ALL);
            for (int i = 0; i < 3 * HookLibrary.RING_SLOTS; i++) { // nothing drains meanwhile
                Madvise.madvise(churned, PAGE, Madvise.MADV_DONTNEED);
            }
            assertTrue(cache.monitor().stats().hookOverflows() > 0, "the ring overflowed");
            assertFalse(bystander.isValid(), "after an overflow nothing cached is trusted");
            bystander.close();
            try (Registration fresh = cache.acquire(untouched, LENGTH, Access.ALL)) {
                assertNotEquals(bystander.localKey(), fresh.localKey());
            }
            Mman.munmap(churned, LENGTH);
            Mman.munmap(untouched, LENGTH);
        }
    }

    @Test
    void shouldNotKeepARegistrationWhoseMemoryChangedWhileItWasMade() {
        long address = touched(Mman.mapAnonymous(LENGTH));
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(new ChangingDevice(nic)).statsName(null)
                     .monitor(HookMonitor.open()).build();
             Registration registration = cache.acquire(address, LENGTH, Access.ALL)) {
            CacheStats stats = cache.stats();
            assertEquals(2, stats.registrations(), "registered again after the change");
            assertEquals(1, stats.deregistrations(), "the first registration went");
            assertEquals(1, stats.entries());
            assertTrue(registration.isValid());
        } finally {
            Mman.munmap(address, LENGTH);
        }
    }

    @Test
    void shouldLeaveARawSyscallUnmapToUserfaultfd() {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache hooks = hooksOnly(nic);
             RegistrationCache both = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(MonitorMode.HOOKS_AND_USERFAULTFD)).build()) {
            // Hooks alone: the window the README names. The old registration comes back.
            assertEquals(1, rawUnmapAndReacquire(hooks).hits(), "hooks alone do not see a raw munmap");
            // With userfaultfd as the backstop the same unmap invalidates it.
            CacheStats stats = rawUnmapAndReacquire(both);
            assertEquals(0, stats.hits(), "userfaultfd saw the raw munmap");
            assertEquals(1, stats.eventInvalidations());
        }
    }

    private static CacheStats rawUnmapAndReacquire(RegistrationCache cache) {
        long address = touched(Mman.mapAnonymous(LENGTH));
        cache.acquire(address, LENGTH, Access.ALL).close();
        Mman.munmapBypassingLibc(address, LENGTH);
        touched(mapAt(address));
        cache.acquire(address, LENGTH, Access.ALL).close();
        cache.invalidate(address, LENGTH);
        Mman.munmap(address, LENGTH);
        return cache.stats();
    }

    @Test
    void shouldSayTheHooksWorkAndRefuseUseAfterClose() {
        assertNull(HookMonitor.checkHooks());
        SimulatedNic nic = SimulatedNic.builder().free().build();
        RegistrationCache cache = hooksOnly(nic);
        long address = touched(Mman.mapAnonymous(LENGTH));
        cache.acquire(address, LENGTH, Access.ALL).close();
        cache.close();
        cache.close();
        Mman.munmap(address, LENGTH); // no handler left for the closed monitor
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> cache.acquire(address, LENGTH, Access.ALL));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertEquals(0, cache.trim(Long.MAX_VALUE));
        nic.close();
    }

    /**
     * The hook check runs every second in every process with a hook monitor, so it must never let
     * go of its probe pages, not for an instant: another thread's mmap would land in the hole and
     * the next probe would map over, and unmap, that thread's memory (a churn test crashed on it).
     * A thread keeps asking the kernel for exactly those pages while the check runs.
     */
    @Test
    void theHookCheckShouldNeverLetGoOfItsProbePages() throws Exception {
        assertNull(HookMonitor.checkHooks());
        long area = HookCheck.get().probeArea();
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong asked = new AtomicLong();
        AtomicLong got = new AtomicLong();
        AtomicReference<LinuxException> odd = new AtomicReference<>();
        Thread taker = Thread.ofPlatform().start(() -> {
            for (long i = 0; !done.get() && got.get() == 0; i++) {
                try {
                    Mman.mmap(area + (i & 1) * PAGE, PAGE, Mman.PROT_READ | Mman.PROT_WRITE,
                            Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
                    got.incrementAndGet(); // left mapped: the probe is what must not touch it
                } catch (LinuxException e) {
                    if (e.errno() != Errno.EEXIST) {
                        odd.set(e);
                        return;
                    }
                }
                asked.incrementAndGet();
            }
        });
        try {
            for (int i = 0; i < 2_000 && got.get() == 0; i++) {
                assertNull(HookCheck.get().checkNow());
            }
        } finally {
            done.set(true);
            taker.join();
        }
        assertNull(odd.get(), "mmap(MAP_FIXED_NOREPLACE) should fail only with EEXIST");
        assertTrue(asked.get() > 0);
        assertEquals(0, got.get(), "another thread got the probe's pages, in " + asked.get() + " tries");
    }

    static RegistrationCache hooksOnly(Device device) {
        return RegistrationCache.builder(device).statsName(null).monitor(HookMonitor.open()).build();
    }

    static long touched(long address) {
        MemoryChange.touch(address, LENGTH, address);
        return address;
    }

    /** Maps fresh memory exactly at {@code address}, which must be free. */
    static long mapAt(long address) {
        return Mman.mmap(address, LENGTH, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
    }

    /**
     * Registers with the device, but the first time the memory changes (madvise through libc,
     * so the hooks hear of it) after the range is watched and before the device registers it:
     * an unmap in flight while the cache registers.
     */
    private static final class ChangingDevice extends ForwardingDevice {
        private boolean changed;

        ChangingDevice(Device device) {
            super(device);
        }

        @Override
        public MemoryRegion register(long address, long length, Access access) {
            if (!changed) {
                changed = true;
                Madvise.madvise(address, length, Madvise.MADV_DONTNEED);
            }
            return device.register(address, length, access);
        }
    }
}
