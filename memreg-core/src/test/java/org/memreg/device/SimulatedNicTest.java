package org.memreg.device;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.memreg.device.DmaRejectedException.Reason;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Mman;
import org.memreg.linux.Pagemap;

/** The contract, plus the NIC's DMA engine, key checks and cost model. Stale cases: {@link SimulatedNicStaleTest}. */
class SimulatedNicTest extends DeviceContractTest {
    @Override
    protected Device newDevice() {
        return SimulatedNic.builder().free().build();
    }

    @Override
    protected Device newDevice(long bytes) {
        return SimulatedNic.builder().free().maxPages(bytes / PAGE).build();
    }

    private SimulatedNic nic() {
        return (SimulatedNic) device;
    }

    @Override
    protected void assertHeld(MemoryRegion region) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(region.length());
            assertEquals(Transfer.OK, nic().read(region.localKey(), region.address(), buffer));
        }
    }

    @Override
    protected void assertConsistent() {
        assertTrue(nic().pagesInTable() * PAGE >= device.registeredBytes());
        assertEquals(nic().regionsInTable() == 0, device.registeredBytes() == 0);
    }

    @Test
    void shouldReadItsPropertiesInBuildAndLetASetterWin() {
        System.setProperty(SimulatedNic.MAX_PAGES_PROP_NAME, "lots");
        try {
            SimulatedNic.Builder builder = SimulatedNic.builder(); // nothing parsed yet
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
            assertTrue(e.getMessage().contains(SimulatedNic.MAX_PAGES_PROP_NAME + "=lots"), e.getMessage());
            SimulatedNic.builder().maxPages(16).build().close();
        } finally {
            System.clearProperty(SimulatedNic.MAX_PAGES_PROP_NAME);
        }
    }

    @Test
    void shouldMoveDataBothWays() {
        long address = map(4);
        MemorySegment memory = Mman.segment(address, 4 * PAGE);
        memory.set(JAVA_LONG, PAGE + 16, 0xCAFEL);
        MemoryRegion region = device.register(address, 4 * PAGE, Access.ALL);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment native8 = arena.allocate(8);
            assertEquals(Transfer.OK, nic().read(region.remoteKey(), address + PAGE + 16, native8));
            assertEquals(0xCAFEL, native8.get(JAVA_LONG, 0));
            long[] heap = {1, 2, 3};
            assertEquals(Transfer.OK, nic().write(region.localKey(), address + PAGE - 8, MemorySegment.ofArray(heap)));
            assertEquals(3L, memory.get(JAVA_LONG, PAGE + 8), "the write crossed the page boundary");
            long[] back = new long[3];
            assertEquals(Transfer.OK, nic().read(region.localKey(), address + PAGE - 8, MemorySegment.ofArray(back)));
            assertArrayEquals(heap, back);
        }
        assertEquals(3, nic().transfers());
        assertEquals(8 + 24 + 24, nic().bytesTransferred());
        assertEquals(0, nic().staleTransfers());
    }

    /** A read into a closed arena's memory went by address: the kernel's copy landed in whatever owned it then. */
    @Test
    void shouldRefuseASegmentWhoseArenaIsClosed() {
        long address = map(1);
        MemoryRegion region = device.register(address, PAGE, Access.ALL);
        MemorySegment closed;
        try (Arena arena = Arena.ofConfined()) {
            closed = arena.allocate(256);
        }
        for (boolean read : new boolean[] {true, false}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
                Transfer unused = read ? nic().read(region.localKey(), address, closed)
                        : nic().write(region.localKey(), address, closed);
            });
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
        assertEquals(0, nic().transfers());
    }

    @Test
    void shouldCheckKeysRangesAndRights() {
        long address = map(4);
        MemoryRegion readOnly = device.register(address + PAGE, 2 * PAGE, Access.LOCAL_READ);
        MemoryRegion remoteRead = device.register(address + PAGE, 2 * PAGE, Access.REMOTE_READ);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(16);
            assertEquals(Transfer.OK, nic().read(readOnly.localKey(), address + PAGE, buffer));
            assertReason(Reason.ACCESS_DENIED, () -> nic().write(readOnly.localKey(), address + PAGE, buffer));
            assertReason(Reason.ACCESS_DENIED, () -> nic().read(readOnly.remoteKey(), address + PAGE, buffer));
            assertEquals(Transfer.OK, nic().read(remoteRead.remoteKey(), address + PAGE, buffer));
            assertReason(Reason.ACCESS_DENIED, () -> nic().write(remoteRead.remoteKey(), address + PAGE, buffer));
            assertReason(Reason.OUT_OF_RANGE, () -> nic().read(readOnly.localKey(), address + PAGE - 8, buffer));
            assertReason(Reason.OUT_OF_RANGE, () -> nic().read(readOnly.localKey(), address + 3 * PAGE - 8, buffer));
            assertReason(Reason.UNKNOWN_KEY, () -> nic().read(readOnly.localKey() ^ 1, address + PAGE, buffer));
            device.deregister(readOnly);
            assertReason(Reason.UNKNOWN_KEY, () -> nic().read(readOnly.localKey(), address + PAGE, buffer));
            assertReason(Reason.UNKNOWN_KEY, () -> nic().read(readOnly.remoteKey(), address + PAGE, buffer));
        }
        assertEquals(2, nic().transfers());
    }

    private static void assertReason(Reason reason, Runnable transfer) {
        assertEquals(reason, assertThrows(DmaRejectedException.class, transfer::run).reason());
    }

    @Test
    void shouldLimitRegionsAndCountTheTable() {
        device.close();
        device = SimulatedNic.builder().free().maxRegions(2).build();
        long address = map(4);
        device.register(address, 2 * PAGE, Access.ALL);
        MemoryRegion second = device.register(address + PAGE, 3 * PAGE, Access.ALL);
        assertEquals(5, nic().pagesInTable(), "overlapping regions take separate entries");
        assertEquals(4 * PAGE, device.registeredBytes());
        ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                () -> device.register(address, PAGE, Access.ALL));
        assertTrue(e.getMessage().contains("2 of 2 regions"), e.getMessage());
        device.deregister(second);
        assertEquals(1, nic().regionsInTable());
        assertEquals(2, nic().registrations());
        assertEquals(1, nic().deregistrations());
    }

    @Test
    void shouldRegisterReadOnlyMappingsOnlyForReading() {
        long address = Mman.mmap(0, PAGE, Mman.PROT_READ, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
        try {
            MemoryRegion region = device.register(address, PAGE, Access.REMOTE_READ);
            assertTrue(Pagemap.isPresent(Pagemap.read(address, 1)[0]));
            assertHeld(region);
            assertThrows(DeviceException.class, () -> device.register(address, PAGE, Access.LOCAL_WRITE));
            assertEquals(1, nic().regionsInTable());
        } finally {
            device.close();
            Mman.munmap(address, PAGE);
        }
    }

    @Test
    void shouldSpendTheConfiguredCost() {
        device.close();
        device = SimulatedNic.builder().registrationNanos(200_000).pageNanos(10_000).deregistrationNanos(300_000).build();
        long address = map(10);
        long start = System.nanoTime();
        MemoryRegion region = device.register(address, 10 * PAGE, Access.ALL);
        assertTrue(System.nanoTime() - start >= 300_000, "200 µs + 10 pages x 10 µs is a lower bound");
        start = System.nanoTime();
        device.deregister(region);
        assertTrue(System.nanoTime() - start >= 300_000);
    }

    @Test
    void shouldReadSettingsFromProperties() {
        System.setProperty(SimulatedNic.STRICT_PROP_NAME, "true");
        System.setProperty(SimulatedNic.MAX_REGIONS_PROP_NAME, "1");
        try (SimulatedNic configured = SimulatedNic.builder().free().build()) {
            assertTrue(configured.strict());
            long address = map(2);
            configured.register(address, PAGE, Access.ALL);
            assertThrows(ResourceExhaustedException.class, () -> configured.register(address, PAGE, Access.ALL));
        } finally {
            System.clearProperty(SimulatedNic.STRICT_PROP_NAME);
            System.clearProperty(SimulatedNic.MAX_REGIONS_PROP_NAME);
        }
        assertEquals(SimulatedNic.STRICT_DEFAULT, SimulatedNic.builder().build().strict());
        assertThrows(IllegalArgumentException.class, () -> SimulatedNic.builder().pageNanos(-1).build());
    }
}
