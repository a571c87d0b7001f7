package org.memreg.memory;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mincore;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.testkit.SegmentAccessors;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

@Unprivileged
class RegisteredArenaTest {
    static final long MIB = 1 << 20;
    final MlockDevice device = MlockDevice.builder().build();
    // No monitor: the arena alone must keep the cache right about its memory.
    final RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE).build();

    @AfterEach
    void close() {
        cache.close();
        device.close();
    }

    @Test
    void shouldAllocateRegisteredMemoryOnceAndHitAfterwards() {
        long lockedBefore = ProcStatus.vmLockedBytes();
        try (RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER)) {
            MemorySegment window = arena.allocate(3 * MIB + 100);
            window.set(JAVA_LONG, 3 * MIB, 42L);
            assertEquals(42L, window.get(JAVA_LONG, 3 * MIB));
            assertEquals(Backing.BASE_PAGES, arena.backing(window));
            Registration held = arena.registration(window);
            assertTrue(held.isValid() && held.covers(window.address(), window.byteSize()));
            assertEquals(ProcStatus.vmLockedBytes() - lockedBefore, arena.allocatedBytes(), "pinned once, all of it");
            try (Registration again = cache.acquire(window.asSlice(MIB, MIB), Access.REMOTE_WRITE)) {
                assertEquals(held.remoteKey(), again.remoteKey(), "a hit on the arena's registration");
            }
            assertEquals(1, cache.stats().misses());
        }
        assertEquals(lockedBefore, ProcStatus.vmLockedBytes());
    }

    /**
     * Threads inside the arena's segments when another closes it, at a random moment: each gets an
     * IllegalStateException (the segments' scope ends before the memory is unmapped), none a fault.
     */
    @Test
    void threadsInsideItsSegmentsShouldGetAnExceptionWhenItClosesUnderThem() throws Exception {
        SplittableRandom random = new SplittableRandom(TestSeeds.seed("RegisteredArenaTest.close"));
        long lockedBefore = ProcStatus.vmLockedBytes();
        for (int round = 0; round < 20; round++) {
            RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER);
            List<SegmentAccessors> accessors = List.of(
                    new SegmentAccessors(arena.allocate(256 << 10), 2, round + 1, random.nextLong()),
                    new SegmentAccessors(arena.allocate(MIB), 2, round + 1, random.nextLong()));
            LockSupport.parkNanos(random.nextLong(3_000_000)); // into the middle of their accesses
            arena.close();
            for (SegmentAccessors a : accessors) {
                a.assertStoppedByTheEnd("round " + round);
            }
            assertEquals(lockedBefore, ProcStatus.vmLockedBytes(), "round " + round + ": memory still pinned");
        }
    }

    /**
     * A close while a native call holds one of the arena's segments fails and leaves everything
     * as it was, so a later close releases it all. Before, the arena counted itself closed before
     * its scope refused to end, and the later close returned at once: its memory stayed pinned and
     * registered for good.
     */
    @Test
    void aCloseRefusedWhileANativeCallHoldsASegmentShouldLeaveTheArenaToCloseLater() throws Exception {
        long lockedBefore = ProcStatus.vmLockedBytes();
        RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER);
        MemorySegment window = arena.allocate(MIB);
        Linker linker = Linker.nativeLinker();
        MethodHandle poll = linker.downcallHandle(linker.defaultLookup().find("poll").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT)); // no descriptors: a 2 s sleep
        CountDownLatch calling = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().start(() -> {
            calling.countDown();
            try {
                int unused = (int) poll.invokeExact(window, 0L, 2_000);
            } catch (Throwable e) {
                throw new AssertionError(e);
            }
        });
        calling.await();
        Thread.sleep(300); // inside the call
        IllegalStateException held = assertThrows(IllegalStateException.class, arena::close);
        assertTrue(held.getMessage().contains("acquired"), held.getMessage());
        window.set(JAVA_LONG, 0, 42L);
        assertEquals(42L, window.get(JAVA_LONG, 0), "the arena is still open");
        holder.join();
        arena.close();
        assertEquals(0, arena.allocatedBytes());
        assertEquals(0, device.registeredBytes(), "released");
        assertEquals(lockedBefore, ProcStatus.vmLockedBytes(), "unpinned");
    }

    @Test
    void shouldInvalidateBeforeUnmappingSoNothingOutlivesTheMemory() {
        RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER);
        MemorySegment window = arena.allocate(MIB);
        long address = window.address();
        Registration held = arena.registration(window);
        arena.close();
        arena.close(); // twice: harmless
        assertFalse(held.isValid());
        assertEquals(0, cache.stats().entries());
        assertEquals(0, cache.stats().registeredBytes());
        assertEquals(0, device.registeredBytes());
        assertFalse(Mincore.isMapped(address, MIB), "unmapped");
        assertThrows(IllegalStateException.class, () -> window.get(JAVA_LONG, 0), "scope ended first");
        assertThrows(IllegalStateException.class, () -> arena.allocate(10));
        assertEquals(1, cache.stats().invalidations());
    }

    @Test
    void shouldNeverLetASimulatedNicMoveDataThroughAFreedWindow() {
        try (SimulatedNic nic = SimulatedNic.builder().free().strict(true).build();
             RegistrationCache nicCache = RegistrationCache.builder(nic).monitor(MemoryMonitor.NONE).build()) {
            RegisteredArena arena = RegisteredArena.of(nicCache, Access.ALL, HugePages.NEVER);
            MemorySegment window = arena.allocate(64 * 1024);
            long address = window.address();
            long oldKey = arena.registration(window).localKey();
            arena.close();
            // New memory at the same address, as a later allocation would get it.
            long fresh = Mman.mmap(address, 64 * 1024, Mman.PROT_READ | Mman.PROT_WRITE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0);
            try {
                try (Registration reg = nicCache.acquire(fresh, 64 * 1024, Access.ALL)) {
                    assertNotEquals(oldKey, reg.localKey(), "a miss: the freed window's registration is gone");
                    MemorySegment data = java.lang.foreign.Arena.ofAuto().allocate(64 * 1024);
                    assertEquals(SimulatedNic.Transfer.OK, nic.write(reg.localKey(), fresh, data));
                }
                assertEquals(0, nic.staleTransfers());
            } finally {
                Mman.munmap(fresh, 64 * 1024);
            }
        }
    }

    @Test
    void shouldUseTransparentHugePagesAlignedTo2MiB() {
        try (RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.TRANSPARENT)) {
            MemorySegment window = arena.allocate(3 * MIB);
            assertEquals(0, window.address() % (2 * MIB));
            assertEquals(4 * MIB, arena.allocatedBytes(), "whole 2 MiB pages");
            assertEquals(Backing.TRANSPARENT_HUGE_PAGES, arena.backing(window));
            window.fill((byte) 7);
            assertEquals(7, window.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 3 * MIB - 1));
        }
    }

    @Test
    void shouldFallBackOrFailClearlyWithoutReservedHugePages() throws Exception {
        long reserved = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/vm/nr_hugepages")).get(0).strip());
        try (RegisteredArena auto = RegisteredArena.of(cache, Access.ALL, HugePages.AUTO);
             RegisteredArena required = RegisteredArena.of(cache, Access.ALL, HugePages.REQUIRED)) {
            MemorySegment window = auto.allocate(MIB);
            if (reserved == 0) {
                assertEquals(Backing.TRANSPARENT_HUGE_PAGES, auto.backing(window));
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> required.allocate(MIB));
                assertTrue(e.getMessage().contains("nr_hugepages"), e.getMessage());
            } else {
                assertTrue(List.of(Backing.HUGETLB, Backing.TRANSPARENT_HUGE_PAGES).contains(auto.backing(window)));
            }
        }
    }

    @Test
    void shouldUseReservedHugePagesWhenThereAreSome() throws Exception {
        Path knob = Path.of("/proc/sys/vm/nr_hugepages");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isWritable(knob), "needs root to reserve huge pages");
        String before = Files.readAllLines(knob).get(0).strip();
        Files.writeString(knob, "4");
        try {
            org.junit.jupiter.api.Assumptions.assumeTrue(
                    Long.parseLong(Files.readAllLines(knob).get(0).strip()) >= 2, "kernel reserved none");
            try (RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.REQUIRED)) {
                MemorySegment window = arena.allocate(2 * MIB);
                assertEquals(Backing.HUGETLB, arena.backing(window));
                window.fill((byte) 1);
                assertTrue(arena.registration(window).isValid());
            }
        } finally {
            Files.writeString(knob, before);
        }
    }

    @Test
    void shouldRejectBadArguments() {
        try (RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER)) {
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(-1, 8));
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(100, 3));
            assertThrows(IllegalArgumentException.class,
                    () -> arena.registration(java.lang.foreign.Arena.ofAuto().allocate(8)));
            assertEquals(0, arena.allocate(0).byteSize());
        }
    }
}
