package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Mincore;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.testkit.Unprivileged;
import org.memreg.testkit.Smaps;

@Unprivileged
class MlockDeviceTest extends DeviceContractTest {
    private long baseline;

    @BeforeEach
    void measureBaseline() {
        baseline = ProcStatus.vmLockedBytes();
    }

    @Override
    protected Device newDevice() {
        return MlockDevice.builder().build();
    }

    @Override
    protected Device newDevice(long bytes) {
        return MlockDevice.builder().pinBudget(bytes).build();
    }

    @Override
    protected void assertHeld(MemoryRegion region) {
        boolean[] resident = Mincore.residency(region.address(), region.length());
        for (boolean page : resident) {
            assertTrue(page, "locked pages are resident");
        }
        assertTrue(ProcStatus.vmLockedBytes() - baseline >= region.length());
    }

    @Override
    protected void assertConsistent() {
        assertEquals(device.registeredBytes(), ProcStatus.vmLockedBytes() - baseline, "VmLck vs device");
    }

    @Test
    void shouldRaiseVmLckAndBringItBackToZero() {
        long address = map(256);
        MemoryRegion region = device.register(address, 256 * PAGE, Access.ALL);
        assertEquals(baseline + 256 * PAGE, ProcStatus.vmLockedBytes());
        device.deregister(region);
        assertEquals(baseline, ProcStatus.vmLockedBytes());
    }

    @Test
    void shouldNameLockedRequestedAndBudgetWhenOverBudget() {
        device.close();
        device = MlockDevice.builder().pinBudget(4 * PAGE).build();
        long address = map(8);
        device.register(address, 3 * PAGE, Access.ALL);
        ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                () -> device.register(address + 2 * PAGE, 4 * PAGE, Access.ALL));
        String expected = String.format("%d bytes locked, %d more requested, budget %d bytes", 3 * PAGE, 3 * PAGE, 4 * PAGE);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertConsistent();
    }

    @Test
    void shouldRollBackPagesLockedBeforeAHole() {
        long address = map(16);
        MemoryRegion held = device.register(address + 4 * PAGE, 2 * PAGE, Access.ALL);
        Mman.munmap(address + 12 * PAGE, PAGE);
        // gaps [0,4) and [6,16): the first locks, the second meets the hole after locking [6,12)
        assertThrows(UnmappedMemoryException.class, () -> device.register(address, 16 * PAGE, Access.ALL));
        assertEquals(2 * PAGE, device.registeredBytes());
        assertConsistent();
        device.deregister(held);
        assertConsistent();
    }

    @Test
    void shouldNotUnlockPagesOfAnotherRegistration() {
        long address = map(8);
        MemoryRegion outer = device.register(address, 8 * PAGE, Access.ALL);
        MemoryRegion inner = device.register(address + 2 * PAGE, 2 * PAGE, Access.ALL);
        device.deregister(inner);
        assertEquals(baseline + 8 * PAGE, ProcStatus.vmLockedBytes());
        device.deregister(outer);
        assertEquals(baseline, ProcStatus.vmLockedBytes());
    }

    @Test
    void shouldTolerateDeregisteringMemoryTheApplicationUnmapped() {
        long address = Mman.mapAnonymous(4 * PAGE);
        MemoryRegion region = device.register(address, 4 * PAGE, Access.ALL);
        Mman.munmap(address, 4 * PAGE);
        device.deregister(region);
        assertEquals(0, device.registeredBytes());
        assertConsistent();
    }

    @Test
    void shouldLockANewMappingAtTheAddressOfAHeldRegistrationOfUnmappedMemory() throws IOException {
        long length = 4 * PAGE;
        long address = Mman.mapAnonymous(length);
        Mman.segment(address, length).fill((byte) 1);
        MemoryRegion old = device.register(address, length, Access.ALL); // still held when its memory goes
        Mman.munmap(address, length);
        long again = Mman.mmap(address, length, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
        Mman.segment(again, length).fill((byte) 2);
        MemoryRegion fresh = device.register(again, length, Access.ALL);
        assertEquals(length, Smaps.lockedBytes(again), "the new mapping has its own pin");
        device.deregister(old);
        assertEquals(length, Smaps.lockedBytes(again), "the old registration's release leaves it locked");
        device.deregister(fresh);
        assertEquals(0, Smaps.lockedBytes(again), "the last release unlocks it");
        Mman.munmap(again, length);
    }

    @Test
    void shouldReadPinBudgetFromProperty() {
        System.setProperty(MlockDevice.PIN_BUDGET_PROP_NAME, "64k");
        try {
            assertEquals(65536, MlockDevice.builder().build().pinBudget());
            assertEquals(4096, MlockDevice.builder().pinBudget(4096).build().pinBudget());
        } finally {
            System.clearProperty(MlockDevice.PIN_BUDGET_PROP_NAME);
        }
        assertEquals(PinBound.current().deviceBudget(), MlockDevice.builder().build().pinBudget());
        assertThrows(IllegalArgumentException.class, () -> MlockDevice.builder().pinBudget(0).build());
    }
}
