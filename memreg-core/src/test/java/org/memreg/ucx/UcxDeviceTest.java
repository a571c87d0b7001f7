package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.DeviceContractTest;
import org.memreg.device.DeviceException;
import org.memreg.device.MemoryRegion;
import org.memreg.monitor.MemoryMonitor;

class UcxDeviceTest extends DeviceContractTest {
    private static UcxContext context;

    @BeforeAll
    static void createContext() {
        UcxTestSupport.assumeUcx();
        context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
    }

    @AfterAll
    static void closeContext() {
        if (context != null) {
            context.close();
        }
    }

    @Override
    protected Device newDevice() {
        return UcxDevice.builder().context(context).build();
    }

    @Override
    protected Device newDevice(long bytes) {
        return UcxDevice.builder().context(context).budget(bytes).build();
    }

    @Override
    protected void assertHeld(MemoryRegion region) {
        UcxDevice ucx = (UcxDevice) device;
        assertTrue(ucx.holds(region), "device holds " + region);
        UcxRegion r = (UcxRegion) region;
        assertTrue(r.memh() != 0);
        assertTrue(r.packedRkey().length > 0, "remote key packs");
    }

    @Override
    protected void assertConsistent() {
        UcxDevice ucx = (UcxDevice) device;
        assertEquals(ucx.registrationCount(), context.mappedCount(), "UCX mappings vs device registrations");
        assertEquals(ucx.registrationCount() == 0, device.registeredBytes() == 0);
    }

    @Test
    void shouldUnmapEverythingFromTheContextOnClose() {
        long address = map(4);
        int before = context.mappedCount();
        device.register(address, 2 * PAGE, Access.ALL);
        device.register(address, 4 * PAGE, Access.REMOTE_WRITE);
        assertEquals(before + 2, context.mappedCount());
        device.close();
        assertEquals(before, context.mappedCount());
        assertTrue(!context.isClosed(), "a given context stays open");
    }

    @Test
    void shouldBeCachedByTheRegistrationCache() {
        long address = map(16);
        try (RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE)
                .statsName("none").build()) {
            Registration first = cache.acquire(address, 16 * PAGE, Access.LOCAL_WRITE);
            first.close();
            Registration second = cache.acquire(address + PAGE, 4 * PAGE, Access.LOCAL_WRITE);
            assertEquals(first.localKey(), second.localKey(), "hit reuses the ucp_mem_h");
            assertEquals(1, ((UcxDevice) device).registrationCount());
            second.close();
        }
        assertEquals(0, device.registeredBytes());
    }

    @Test
    void shouldTrackItsPeakOfRegisteredBytes() {
        UcxDevice ucx = (UcxDevice) device;
        long address = map(8);
        MemoryRegion a = device.register(address, 4 * PAGE, Access.LOCAL_READ);
        MemoryRegion b = device.register(address + 2 * PAGE, 6 * PAGE, Access.LOCAL_READ);
        assertEquals(8 * PAGE, ucx.peakRegisteredBytes(), "overlapping pages counted once");
        device.deregister(a);
        device.deregister(b);
        assertEquals(0, device.registeredBytes());
        assertEquals(8 * PAGE, ucx.peakRegisteredBytes(), "the peak stays");
        ucx.resetPeakRegisteredBytes();
        assertEquals(0, ucx.peakRegisteredBytes(), "reset to what is registered now");
        device.deregister(device.register(address, PAGE, Access.LOCAL_READ));
        assertEquals(PAGE, ucx.peakRegisteredBytes());
    }

    @Test
    void shouldOwnAndCloseItsOwnContext() {
        UcxDevice own = UcxDevice.builder().build();
        long address = map(1);
        own.register(address, PAGE, Access.ALL);
        own.close();
        assertTrue(own.context().isClosed());
        assertThrows(DeviceException.class, () -> own.register(address, PAGE, Access.ALL));
    }
}
