package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;
import org.memreg.testkit.Unprivileged;

/**
 * libfabric's mr_cache_evict for each way memory changes under a registration: with the
 * userfaultfd monitor the next acquire of the address is a miss with a fresh registration and
 * no transfer is ever stale; without it (the control) the cache hands back the old registration
 * and, where frames are visible (root), the simulated NIC catches stale transfers, which proves
 * the test can fail.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang is a failure
@Unprivileged
class MemoryChangeScenariosTest {
    static final long LENGTH = 64 * 1024;
    static final int ROUNDS = 20;

    @ParameterizedTest
    @EnumSource(MemoryChange.class)
    void monitorShouldMakeTheNextAcquireAFreshMissAndNoTransferStale(MemoryChange change) {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).monitor(UserfaultfdMonitor.open()).build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(LENGTH);
            long address = Mman.mapAnonymous(LENGTH);
            try {
                MemoryChange.touch(address, LENGTH, 1L);
                for (int round = 0; round < ROUNDS; round++) {
                    long key;
                    try (Registration reg = cache.acquire(address, LENGTH, Access.ALL)) {
                        key = reg.localKey();
                        assertEquals(Transfer.OK, nic.read(reg.localKey(), address, data));
                    }
                    long missesBefore = cache.stats().misses();
                    change.applyAndTouch(address, LENGTH, round);
                    try (Registration reg = cache.acquire(address, LENGTH, Access.ALL)) {
                        assertEquals(missesBefore + 1, cache.stats().misses(), change + ": a miss");
                        assertNotEquals(key, reg.localKey(), change + ": a fresh registration");
                        assertEquals(Transfer.OK, nic.read(reg.localKey(), address, data), change + " round " + round);
                        assertEquals(Transfer.OK, nic.write(reg.localKey(), address, data), change + " round " + round);
                    }
                }
                assertEquals(0, nic.staleTransfers());
                assertEquals(ROUNDS, cache.stats().eventInvalidations(), "one invalidation per change");
            } finally {
                Mman.munmap(address, LENGTH);
            }
        }
    }

    /**
     * The control, for any user: without a monitor the cache hands back the registration of the
     * memory that is gone, every round (the cause of the corruption the next test shows).
     */
    @ParameterizedTest
    @EnumSource(MemoryChange.class)
    void withoutTheMonitorTheCacheHandsBackTheOldRegistration(MemoryChange change) {
        assertEquals(ROUNDS, control(change).reused(), change + ": every round reused the old registration");
    }

    /**
     * The control as the NIC sees it: the reused registration moves data from the old frames.
     * Needs frame numbers from /proc/self/pagemap, which only root sees.
     */
    @ParameterizedTest
    @EnumSource(MemoryChange.class)
    void withoutTheMonitorTheNicCatchesTheStaleTransfer(MemoryChange change) {
        assumeTrue(Pagemap.pfnsVisible(), "needs frame numbers (root)");
        Control control = control(change);
        System.out.printf("control %s: frames changed in %d of %d rounds, %d stale transfers%n",
                change, control.framesChanged(), ROUNDS, control.stale());
        assertTrue(control.stale() > 0, change + ": the control must show the corruption at least once");
    }

    /** Rounds whose second acquire got the old key, whose frames changed, and stale transfers. */
    private record Control(int reused, int framesChanged, int stale) {}

    private static Control control(MemoryChange change) {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).monitor(MemoryMonitor.NONE).build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(LENGTH);
            int reused = 0;
            int stale = 0;
            int framesChanged = 0;
            for (int round = 0; round < ROUNDS; round++) {
                long address = Mman.mapAnonymous(LENGTH);
                try {
                    MemoryChange.touch(address, LENGTH, 1L);
                    long key;
                    try (Registration reg = cache.acquire(address, LENGTH, Access.ALL)) {
                        key = reg.localKey();
                    }
                    long frame = Pagemap.pfn(Pagemap.read(address, 1)[0]);
                    change.applyAndTouch(address, LENGTH, round);
                    boolean changed = Pagemap.pfnsVisible() && Pagemap.pfn(Pagemap.read(address, 1)[0]) != frame;
                    framesChanged += changed ? 1 : 0;
                    try (Registration reg = cache.acquire(address, LENGTH, Access.ALL)) {
                        reused += key == reg.localKey() ? 1 : 0;
                        Transfer result = nic.read(reg.localKey(), address, data);
                        if (changed) {
                            assertEquals(Transfer.STALE, result, change + ": the NIC sees the old frames");
                        }
                        stale += result == Transfer.STALE ? 1 : 0;
                    }
                    cache.invalidate(address, LENGTH); // start the next round clean
                } finally {
                    Mman.munmap(address, LENGTH);
                }
            }
            return new Control(reused, framesChanged, stale);
        }
    }
}
