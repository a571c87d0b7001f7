package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.linux.UffdTestSupport.PAGE;
import static org.memreg.linux.UffdTestSupport.WAIT_MILLIS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.linux.UffdTestSupport.Worker;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * What the kernel tells a userfaultfd, for ranges registered in each mode: UNMAP, REMOVE and
 * REMAP events (and that the causing thread waits until the event is read), PAGEFAULT in MISSING
 * mode. Each test closes the userfaultfd in a finally, which releases any thread still blocked,
 * and only then unmaps what is left.
 */
@Unprivileged
class UserfaultfdEventsTest {
    private static final int PAGES = 8;
    /** How long a blocked thread must stay blocked before we read its event. */
    private static final long BLOCKED_MILLIS = 200;

    private static long seed() {
        return TestSeeds.seed("UserfaultfdEventsTest");
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Userfaultfd.MODE_WP, Userfaultfd.MODE_MISSING,
        Userfaultfd.MODE_MISSING | Userfaultfd.MODE_WP})
    void shouldReportUnmapAfterBlockingTheUnmappingThreadUntilRead(int mode) throws Exception {
        SplittableRandom random = new SplittableRandom(seed());
        long first = random.nextInt(PAGES);
        long count = 1 + random.nextInt((int) (PAGES - first));
        long address = UffdTestSupport.map(PAGES, true);
        long start = address + first * PAGE;
        long end = start + count * PAGE;
        Userfaultfd uffd = Userfaultfd.open();
        try (Arena arena = Arena.ofConfined()) {
            uffd.register(address, PAGES * PAGE, mode);
            Worker unmapper = new Worker("unmapper", () -> Mman.munmap(start, count * PAGE));
            assertTrue(UffdTestSupport.awaitReadable(uffd, WAIT_MILLIS), "UNMAP event queued");
            assertFalse(unmapper.join(BLOCKED_MILLIS), "munmap returns only once the event is read");
            MemorySegment buffer = UffdMessage.allocate(arena, 4);
            assertEquals(1, uffd.readEvents(buffer));
            assertEquals(UffdMessage.EVENT_UNMAP, UffdMessage.event(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(start, UffdMessage.rangeStart(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(end, UffdMessage.rangeEnd(buffer, 0), UffdMessage.describe(buffer, 0));
            assertTrue(unmapper.join(WAIT_MILLIS), "munmap returned after the read");
            assertFalse(Mincore.isMapped(start, count * PAGE), "UNMAP is sent after the range is gone");
            assertEquals(0, uffd.readEvents(buffer), "nothing else");
        } finally {
            uffd.close();
            Mman.munmap(address, PAGES * PAGE);
        }
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Userfaultfd.MODE_WP, Userfaultfd.MODE_MISSING})
    void shouldReportRemoveForMadviseDontneedBeforeThePagesGo(int mode) throws Exception {
        SplittableRandom random = new SplittableRandom(seed());
        long first = random.nextInt(PAGES);
        long count = 1 + random.nextInt((int) (PAGES - first));
        long address = UffdTestSupport.map(PAGES, true);
        long start = address + first * PAGE;
        Mman.segment(start, PAGE).set(JAVA_LONG, 0, 42L);
        Userfaultfd uffd = Userfaultfd.open();
        try (Arena arena = Arena.ofConfined()) {
            uffd.register(address, PAGES * PAGE, mode);
            Worker dropper = new Worker("madvise", () -> Madvise.madvise(start, count * PAGE, Madvise.MADV_DONTNEED));
            assertTrue(UffdTestSupport.awaitReadable(uffd, WAIT_MILLIS), "REMOVE event queued");
            assertFalse(dropper.join(BLOCKED_MILLIS), "madvise returns only once the event is read");
            assertEquals(42L, Mman.segment(start, PAGE).get(JAVA_LONG, 0), "REMOVE comes before the drop");
            MemorySegment buffer = UffdMessage.allocate(arena, 4);
            assertEquals(1, uffd.readEvents(buffer));
            assertEquals(UffdMessage.EVENT_REMOVE, UffdMessage.event(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(start, UffdMessage.rangeStart(buffer, 0));
            assertEquals(start + count * PAGE, UffdMessage.rangeEnd(buffer, 0));
            assertTrue(dropper.join(WAIT_MILLIS));
            assertTrue(Mincore.isMapped(start, count * PAGE), "DONTNEED keeps the mapping");
        } finally {
            uffd.close();
            Mman.munmap(address, PAGES * PAGE);
        }
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Userfaultfd.MODE_WP, Userfaultfd.MODE_MISSING})
    void shouldReportRemapThenUnmapWhenMremapMovesARegisteredRange(int mode) throws Exception {
        long address = UffdTestSupport.map(PAGES, true);
        long half = PAGES / 2 * PAGE;
        Mman.segment(address, PAGE).set(JAVA_LONG, 0, 7L);
        AtomicLong moved = new AtomicLong();
        Userfaultfd uffd = Userfaultfd.open();
        try (Arena arena = Arena.ofConfined()) {
            // Registering the first half splits the mapping; the second half blocks growth in
            // place, so growing the first half must move it.
            uffd.register(address, half, mode);
            Worker remapper = new Worker("mremap", () ->
                    moved.set(Mman.mremap(address, half, 16 * half, Mman.MREMAP_MAYMOVE, 0L)));
            // One message per read: reading REMAP wakes mremap, which may queue UNMAP before a
            // longer read returns (seen on 6.1 in the VM), and the test must read them apart.
            MemorySegment buffer = UffdMessage.allocate(arena, 1);
            assertEquals(1, UffdTestSupport.awaitEvents(uffd, buffer, WAIT_MILLIS));
            assertEquals(UffdMessage.EVENT_REMAP, UffdMessage.event(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(address, UffdMessage.remapFrom(buffer, 0));
            long to = UffdMessage.remapTo(buffer, 0);
            assertNotEquals(address, to);
            assertEquals(half, UffdMessage.remapLength(buffer, 0), "the old length");
            // Then mremap unmaps the old range, and waits for that event to be read too.
            assertFalse(remapper.join(BLOCKED_MILLIS), "mremap waits for the UNMAP of the old range");
            assertEquals(1, UffdTestSupport.awaitEvents(uffd, buffer, WAIT_MILLIS));
            assertEquals(UffdMessage.EVENT_UNMAP, UffdMessage.event(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(address, UffdMessage.rangeStart(buffer, 0));
            assertEquals(address + half, UffdMessage.rangeEnd(buffer, 0));
            assertTrue(remapper.join(WAIT_MILLIS));
            assertEquals(moved.get(), to, "REMAP names where mremap moved the range");
            assertEquals(7L, Mman.segment(moved.get(), PAGE).get(JAVA_LONG, 0));
        } finally {
            uffd.close(); // before unmapping: the moved range is still registered
            Mman.munmap(address + half, half);
            if (moved.get() != 0) {
                Mman.munmap(moved.get(), 16 * half);
            }
        }
    }

    @ParameterizedTest(name = "write {0}")
    @ValueSource(booleans = {false, true})
    void shouldReportAMissingPageFaultAndLetTheThreadGoOnAfterZeropage(boolean write) throws Exception {
        long address = UffdTestSupport.map(4, false);
        long page = address + 2 * PAGE;
        AtomicLong result = new AtomicLong(-1);
        Userfaultfd uffd = Userfaultfd.open();
        Worker toucher = null;
        try (Arena arena = Arena.ofConfined()) {
            uffd.register(address, 4 * PAGE, Userfaultfd.MODE_MISSING);
            toucher = new Worker("toucher", () -> {
                if (write) {
                    UffdTestSupport.nativeWrite(page + 100, 5);
                    result.set(UffdTestSupport.nativeReadNonZero(page + 100));
                } else {
                    result.set(UffdTestSupport.nativeReadNonZero(page + 100));
                }
            });
            MemorySegment buffer = UffdMessage.allocate(arena, 4);
            assertEquals(1, UffdTestSupport.awaitEvents(uffd, buffer, WAIT_MILLIS));
            assertEquals(UffdMessage.EVENT_PAGEFAULT, UffdMessage.event(buffer, 0), UffdMessage.describe(buffer, 0));
            assertEquals(page, UffdMessage.pagefaultAddress(buffer, 0), "rounded down to the page");
            assertEquals(write, (UffdMessage.pagefaultFlags(buffer, 0) & UffdMessage.PAGEFAULT_FLAG_WRITE) != 0);
            assertNotEquals(0, UffdMessage.pagefaultThreadId(buffer, 0), "THREAD_ID feature");
            assertFalse(toucher.join(BLOCKED_MILLIS), "the faulting thread waits for an answer");
            assertEquals(PAGE, uffd.zeropage(page, PAGE));
            assertTrue(toucher.join(WAIT_MILLIS), "zeropage woke the faulting thread");
            assertEquals(write ? 1 : 0, result.get());
            assertEquals(0, uffd.readEvents(buffer), "a write after zeropage is an ordinary COW fault");
            assertEquals(Errno.EEXIST, uffd.tryZeropage(page, PAGE), "the page is there now");
        } finally {
            uffdClosedThenUnmap(uffd, toucher, address, 4 * PAGE);
        }
    }

    @Test
    void shouldNotReportFaultsOnMissingPagesOfAWriteProtectOnlyRange() throws Exception {
        long address = UffdTestSupport.map(4, false);
        Userfaultfd uffd = Userfaultfd.open();
        Worker toucher = null;
        try (Arena arena = Arena.ofConfined()) {
            uffd.register(address, 4 * PAGE, Userfaultfd.MODE_WP);
            toucher = new Worker("toucher", () -> {
                for (int i = 0; i < 4; i++) {
                    UffdTestSupport.nativeWrite(address + i * PAGE, 1);
                }
            });
            assertTrue(toucher.join(WAIT_MILLIS), "WP mode never stops first-touch faults");
            assertEquals(0, uffd.readEvents(UffdMessage.allocate(arena, 4)));
        } finally {
            uffdClosedThenUnmap(uffd, toucher, address, 4 * PAGE);
        }
    }

    // Closing releases a thread stuck on a fault, which then touches the page again: unmapping
    // before it has finished would crash the JVM with SIGSEGV, so leak the pages instead.
    private static void uffdClosedThenUnmap(Userfaultfd uffd, Worker toucher, long address, long length) {
        uffd.close();
        if (toucher == null || toucher.finished(WAIT_MILLIS)) {
            Mman.munmap(address, length);
        }
    }

    @Test
    void shouldReleaseABlockedUnmapperWhenTheUserfaultfdIsClosed() throws Exception {
        long address = UffdTestSupport.map(2, true);
        Userfaultfd uffd = Userfaultfd.open();
        Worker unmapper;
        try {
            uffd.register(address, 2 * PAGE, Userfaultfd.MODE_WP);
            unmapper = new Worker("unmapper", () -> Mman.munmap(address, 2 * PAGE));
            assertTrue(UffdTestSupport.awaitReadable(uffd, WAIT_MILLIS));
            assertFalse(unmapper.join(BLOCKED_MILLIS));
        } finally {
            uffd.close();
        }
        assertTrue(unmapper.join(WAIT_MILLIS), "closing the userfaultfd released munmap");
        assertFalse(Mincore.isMapped(address, 2 * PAGE));
    }
}
