package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.linux.MemoryPressure;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.testkit.Unprivileged;

/**
 * Memory pressure gives back unused registrations and keeps the ones in use. On this VM the
 * kernel's memory PSI stays at zero even while a memory-limited cgroup thrashes, so the trigger is
 * installed for real but fired through the same entry point it calls, {@link PressureWatcher#onPressure()}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Unprivileged
class PressureWatcherTest {
    static final long CHUNK = 256 * 1024;

    @Test
    void pressureEntryPointCalledDirectlyShouldTrimUnusedAndKeepHeld() {
        assumeTrue(MemoryPressure.available(), "no PSI on this kernel");
        long arena = Mman.mapAnonymous(8 * CHUNK);
        long lockedBefore = ProcStatus.vmLockedBytes();
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).build();
             PressureWatcher watcher = PressureWatcher.builder(cache::trim).start()) {
            for (int i = 0; i < 4; i++) {
                cache.acquire(arena + 2 * i * CHUNK, CHUNK, Access.ALL).close(); // cached, unused
            }
            try (Registration held = cache.acquire(arena + 7 * CHUNK, CHUNK, Access.ALL)) {
                assertEquals(5 * CHUNK, ProcStatus.vmLockedBytes() - lockedBefore);
                assertEquals(4 * CHUNK, watcher.onPressure(), "every unused registration given back");
                assertTrue(held.isValid(), "the one in use is kept");
                assertEquals(CHUNK, ProcStatus.vmLockedBytes() - lockedBefore, "and really unpinned");
                assertEquals(0, watcher.onPressure(), "nothing left to give");
                assertEquals(2, watcher.triggers());
                assertEquals(4 * CHUNK, watcher.bytesReleased());
                assertEquals(4, cache.stats().trimmed());
            }
        } finally {
            Mman.munmap(arena, 8 * CHUNK);
        }
    }

    @Test
    void shouldGiveBackOnlyTheConfiguredBytesPerTrigger() {
        assumeTrue(MemoryPressure.available(), "no PSI on this kernel");
        long arena = Mman.mapAnonymous(8 * CHUNK);
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).build();
             PressureWatcher watcher = PressureWatcher.builder(cache::trim).trimBytes(CHUNK + 1).start()) {
            for (int i = 0; i < 4; i++) {
                cache.acquire(arena + 2 * i * CHUNK, CHUNK, Access.ALL).close();
            }
            assertEquals(2 * CHUNK, watcher.onPressure(), "least recently used first, until the bytes are met");
            assertEquals(2 * CHUNK, cache.stats().registeredBytes());
        } finally {
            Mman.munmap(arena, 8 * CHUNK);
        }
    }

    @Test
    void shouldInstallARealPsiTriggerAndStopCleanly() {
        assumeTrue(MemoryPressure.available(), "no PSI on this kernel");
        PressureWatcher watcher = PressureWatcher.builder(bytes -> 0).start();
        assertEquals("some 200000 2000000", watcher.trigger());
        watcher.close();
        watcher.close(); // twice: harmless
        assertEquals(0, watcher.triggers(), "no pressure here");
    }

    @Test
    void shouldRejectBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> PressureWatcher.builder(b -> 0).windowMicros(20_000_000).start());
        assertThrows(IllegalArgumentException.class, () -> PressureWatcher.builder(b -> 0).stallMicros(0).start());
        assertThrows(IllegalArgumentException.class,
                () -> PressureWatcher.builder(b -> 0).stallMicros(3_000_000).windowMicros(2_000_000).start());
        assertThrows(IllegalArgumentException.class, () -> PressureWatcher.builder(b -> 0).trimBytes(-1).start());
        assertThrows(NullPointerException.class, () -> PressureWatcher.builder(null));
        assumeTrue(MemoryPressure.available() && !org.memreg.linux.PressureTrigger.privileged(), "privileged");
        MonitorUnavailableException e = assertThrows(MonitorUnavailableException.class,
                () -> PressureWatcher.builder(b -> 0).stallMicros(100_000).windowMicros(1_000_000).start());
        assertFalse(e.getMessage().isEmpty());
    }
}
