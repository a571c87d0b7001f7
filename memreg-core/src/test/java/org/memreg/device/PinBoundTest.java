package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.testkit.Unprivileged;

/**
 * The default pin bound (issue 15): pinning is bounded for root too, where RLIMIT_MEMLOCK does not
 * apply, and running out says how to raise the bound.
 */
@Unprivileged
class PinBoundTest {
    private static final long MIB = 1 << 20;
    private static final long PAGE = 4096;

    @Test
    void theKernelsLimitShouldBeTheBoundWhereItApplies() {
        PinBound bound = PinBound.byDefault(false, 8 * MIB, 24L << 30);
        assertEquals(new PinBound(8 * MIB, PinBound.Source.RLIMIT_MEMLOCK), bound);
        assertEquals(Long.MAX_VALUE, bound.deviceBudget(), "the kernel enforces it, the device adds nothing");
        assertTrue(bound.howToRaise().contains("ulimit -l") && bound.howToRaise().contains("CAP_IPC_LOCK"), bound.howToRaise());
    }

    @Test
    void aQuarterOfMemoryShouldBeTheBoundWhereTheKernelSetsNone() {
        for (PinBound bound : List.of(PinBound.byDefault(true, 8 * MIB, 24L << 30),
                PinBound.byDefault(false, MemoryLock.RLIM_INFINITY, 24L << 30))) {
            assertEquals(PinBound.Source.MEMORY_SHARE, bound.source());
            assertEquals(6L << 30, bound.bytes());
            assertEquals(bound.bytes(), bound.deviceBudget());
            assertTrue(bound.description().startsWith("a quarter of memory (24 GiB)"), bound.description());
            assertTrue(bound.howToRaise().contains("-Dmemreg.mlock.pinBudget=SIZE"), bound.howToRaise());
        }
        assertThrows(IllegalArgumentException.class, () -> new PinBound(0, PinBound.Source.CONFIGURED));
    }

    @Test
    void aDeviceMadeNowShouldBeBoundedWhateverItsCapabilities() {
        boolean ipcLock = (ProcStatus.effectiveCapabilities() & (1L << 14)) != 0;
        long soft = MemoryLock.memlockLimit().soft();
        try (MlockDevice device = MlockDevice.builder().build()) {
            PinBound bound = device.bound();
            System.out.println("CAP_IPC_LOCK " + ipcLock + ", RLIMIT_MEMLOCK " + soft + ": " + bound);
            if (ipcLock || soft == MemoryLock.RLIM_INFINITY) {
                assertEquals(PinBound.Source.MEMORY_SHARE, bound.source(), "root ignores RLIMIT_MEMLOCK");
                assertEquals(PinBound.totalMemory() / 4, device.pinBudget());
            } else {
                assertEquals(new PinBound(soft, PinBound.Source.RLIMIT_MEMLOCK), bound);
                assertEquals(Long.MAX_VALUE, device.pinBudget());
            }
            assertTrue(bound.bytes() < Long.MAX_VALUE / 2, "a bound, not 'unlimited'");
        }
    }

    @Test
    void runningIntoTheDefaultBoundShouldSayHowToRaiseIt() {
        long address = Mman.mapAnonymous(16 * PAGE);
        // The default as root on a machine with 64 KiB: a budget of 4 pages.
        try (MlockDevice device = MlockDevice.builder().bound(PinBound.byDefault(true, 8 * MIB, 16 * PAGE)).build()) {
            device.register(address, 4 * PAGE, Access.ALL);
            ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                    () -> device.register(address + 4 * PAGE, PAGE, Access.ALL));
            assertTrue(e.getMessage().contains("budget 16384 bytes (a quarter of memory (64 KiB)"), e.getMessage());
            assertTrue(e.getMessage().contains("raise it with -Dmemreg.mlock.pinBudget=SIZE"), e.getMessage());
        } finally {
            Mman.munmap(address, 16 * PAGE);
        }
    }

    @Test
    void aCacheOutOfPinBudgetShouldSayHowToRaiseIt() {
        long address = Mman.mapAnonymous(16 * PAGE);
        System.setProperty(MlockDevice.PIN_BUDGET_PROP_NAME, "32k");
        List<Registration> held = new ArrayList<>();
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE).statsName("none")
                     .build()) {
            assertEquals(new PinBound(32 * 1024, PinBound.Source.CONFIGURED), device.bound());
            for (int i = 0; i < 4; i++) {
                held.add(cache.acquire(address + i * 2 * PAGE, 2 * PAGE, Access.ALL));
            }
            ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                    () -> cache.acquire(address + 8 * PAGE, PAGE, Access.ALL));
            assertTrue(e.getMessage().contains("nothing unused to evict; limit: device mlock: mlock pin budget exceeded"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("raise it with -Dmemreg.mlock.pinBudget=SIZE"), e.getMessage());
            held.forEach(Registration::close);
        } finally {
            System.clearProperty(MlockDevice.PIN_BUDGET_PROP_NAME);
            Mman.munmap(address, 16 * PAGE);
        }
    }
}
