package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.util.TestSeeds;

/**
 * The contract every {@link Device} keeps, in the style of JCTools' QueueSanityTest: one
 * subclass per device supplies the device and a device-specific check of what it holds.
 */
public abstract class DeviceContractTest {
    protected static final long PAGE = SysConf.pageSize();
    protected Device device;
    private final List<long[]> mappings = new ArrayList<>();

    /** A device with default settings. */
    protected abstract Device newDevice();

    /** A device that can register at most {@code bytes} (pin budget, table size). */
    protected abstract Device newDevice(long bytes);

    /** Checks with the device's own means that {@code region} is really registered. */
    protected abstract void assertHeld(MemoryRegion region);

    /** Checks with the device's own means that what it holds matches {@link Device#registeredBytes()}. */
    protected abstract void assertConsistent();

    @BeforeEach
    void createDevice() {
        device = newDevice();
    }

    @AfterEach
    void closeDeviceAndUnmap() {
        device.close();
        mappings.forEach(m -> Mman.munmap(m[0], m[1]));
    }

    protected long map(long pages) {
        long address = Mman.mapAnonymous(pages * PAGE);
        mappings.add(new long[] {address, pages * PAGE});
        return address;
    }

    protected static long seed(String test) {
        return TestSeeds.seed(test);
    }

    @Test
    void shouldRegisterExactlyTheRangeAndAccessAsked() {
        long address = map(8);
        MemoryRegion region = device.register(address + PAGE, 3 * PAGE, Access.REMOTE_READ);
        assertEquals(address + PAGE, region.address());
        assertEquals(3 * PAGE, region.length());
        assertEquals(address + 4 * PAGE, region.end());
        assertSame(Access.REMOTE_READ, region.access());
        assertEquals(3 * PAGE, device.registeredBytes());
        assertHeld(region);
        assertConsistent();
    }

    @Test
    void shouldGiveDistinctKeys() {
        long address = map(1);
        Set<Long> keys = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            MemoryRegion region = device.register(address, PAGE, Access.ALL);
            assertTrue(keys.add(region.localKey()), "local key repeated");
            assertNotEquals(region.localKey(), region.remoteKey());
        }
        assertEquals(PAGE, device.registeredBytes(), "one page, however often registered");
    }

    @Test
    void shouldReleaseOnDeregisterAndIgnoreSecondDeregister() {
        long address = map(4);
        MemoryRegion region = device.register(address, 4 * PAGE, Access.LOCAL_WRITE);
        device.deregister(region);
        assertEquals(0, device.registeredBytes());
        device.deregister(region);
        assertEquals(0, device.registeredBytes());
        assertConsistent();
    }

    @Test
    void shouldCountOverlapOncePerPageAndKeepTheOtherRegistration() {
        long address = map(12);
        MemoryRegion first = device.register(address, 8 * PAGE, Access.ALL);
        MemoryRegion second = device.register(address + 4 * PAGE, 8 * PAGE, Access.ALL);
        assertEquals(12 * PAGE, device.registeredBytes());
        assertConsistent();
        device.deregister(first);
        assertEquals(8 * PAGE, device.registeredBytes());
        assertHeld(second);
        assertConsistent();
        device.deregister(second);
        assertEquals(0, device.registeredBytes());
        assertConsistent();
    }

    @Test
    void shouldRefuseUnmappedMemoryAndRegisterNothing() {
        long address = map(6);
        MemoryRegion held = device.register(address, 2 * PAGE, Access.ALL);
        Mman.munmap(address + 4 * PAGE, PAGE);
        assertThrows(UnmappedMemoryException.class, () -> device.register(address, 6 * PAGE, Access.ALL));
        assertThrows(UnmappedMemoryException.class, () -> device.register(address + 4 * PAGE, PAGE, Access.ALL));
        assertEquals(2 * PAGE, device.registeredBytes());
        assertHeld(held);
        assertConsistent();
    }

    @Test
    void shouldRefuseWhenExhaustedAndRegisterNothing() {
        device.close();
        device = newDevice(8 * PAGE);
        long address = map(16);
        MemoryRegion held = device.register(address, 6 * PAGE, Access.ALL);
        ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                () -> device.register(address + 8 * PAGE, 4 * PAGE, Access.ALL));
        assertTrue(e.getMessage().matches(".*\\d+.*\\d+.*"), "names use and limit: " + e.getMessage());
        assertEquals(6 * PAGE, device.registeredBytes());
        assertConsistent();
        device.deregister(held);
        assertHeld(device.register(address + 8 * PAGE, 4 * PAGE, Access.ALL));
        assertConsistent();
    }

    @Test
    void shouldRejectBadRanges() {
        long address = map(2);
        assertThrows(IllegalArgumentException.class, () -> device.register(address, 0, Access.ALL));
        assertThrows(IllegalArgumentException.class, () -> device.register(address + 1, PAGE, Access.ALL));
        assertThrows(IllegalArgumentException.class, () -> device.register(address, PAGE + 1, Access.ALL));
        assertThrows(IllegalArgumentException.class, () -> device.register(-PAGE, 2 * PAGE, Access.ALL));
        assertEquals(0, device.registeredBytes());
    }

    @Test
    void shouldEndWithNothingRegisteredAfterManyThreads() throws Exception {
        long seed = seed("shouldEndWithNothingRegisteredAfterManyThreads");
        int pages = 64;
        long address = map(pages);
        int threads = 4;
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                SplittableRandom random = new SplittableRandom(seed + t);
                futures.add(pool.submit(() -> churn(random, address, pages)));
            }
            for (Future<?> future : futures) {
                future.get();
            }
        }
        assertEquals(0, device.registeredBytes());
        assertConsistent();
    }

    private void churn(SplittableRandom random, long address, int pages) {
        List<MemoryRegion> mine = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            if (mine.isEmpty() || random.nextInt(3) != 0) {
                int first = random.nextInt(pages);
                int count = 1 + random.nextInt(Math.min(8, pages - first));
                MemoryRegion region = device.register(address + first * PAGE, count * PAGE, Access.ALL);
                assertTrue(device.registeredBytes() >= region.length());
                mine.add(region);
            } else {
                device.deregister(mine.remove(random.nextInt(mine.size())));
            }
        }
        mine.forEach(device::deregister);
    }

    @Test
    void shouldReleaseEverythingOnClose() {
        long address = map(8);
        device.register(address, 4 * PAGE, Access.ALL);
        MemoryRegion region = device.register(address + 2 * PAGE, 6 * PAGE, Access.ALL);
        device.close();
        assertEquals(0, device.registeredBytes());
        assertConsistent();
        device.close();
        device.deregister(region);
        assertThrows(DeviceException.class, () -> device.register(address, PAGE, Access.ALL));
        assertEquals(0, device.registeredBytes());
    }
}
