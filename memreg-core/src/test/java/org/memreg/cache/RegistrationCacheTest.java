package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;
import org.memreg.device.DeviceException;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.device.UnmappedMemoryException;
import org.memreg.monitor.MemoryEventKind;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.ScriptedMonitor;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class RegistrationCacheTest {
    static final long PAGE = 4096;
    static final long BASE = 0x7f00_0000_0000L;
    /** A buffer that is not page-aligned, and its chunks' size: neighbouring chunks share an edge page. */
    static final long UNALIGNED = BASE + 100;
    static final long CHUNK = 4 * PAGE;

    final InMemoryTestDevice device = new InMemoryTestDevice();
    RegistrationCache cache = RegistrationCache.builder(device).build();

    private void useCacheWithoutMerging() {
        cache.close();
        cache = RegistrationCache.builder(device).merge(false).build();
    }

    @AfterEach
    void checkDeviceProtocol() {
        cache.close();
        assertEquals(0, device.liveRegions(), "close leaves nothing registered");
        assertEquals(0, device.protocolErrors, "cache never deregisters twice nor sends bad ranges");
    }

    @Test
    void shouldMissOnceThenHit() {
        try (Registration first = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE)) {
            assertTrue(first.isValid());
        }
        try (Registration second = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE)) {
            assertTrue(second.isValid());
        }
        CacheStats stats = cache.stats();
        assertEquals(1, stats.misses());
        assertEquals(1, stats.hits());
        assertEquals(1, device.registerCalls);
    }

    @Test
    void shouldDeregisterAtTheLastReleaseWhenKeepingNothingUnused() {
        cache.close();
        cache = RegistrationCache.builder(device).keepUnused(false).build();
        Registration first = cache.acquire(BASE, 4 * PAGE, Access.LOCAL_READ);
        Registration shared = cache.acquire(BASE + PAGE, PAGE, Access.LOCAL_READ);
        assertEquals(first.localKey(), shared.localKey(), "a held registration is still shared");
        first.close();
        assertEquals(1, device.liveRegions(), "held by the second holder");
        shared.close();
        assertEquals(0, device.liveRegions(), "the last release deregistered it");
        try (Registration again = cache.acquire(BASE, 4 * PAGE, Access.LOCAL_READ)) {
            assertTrue(again.isValid());
        }
        assertEquals(0, device.liveRegions());
        CacheStats stats = cache.stats();
        assertEquals(2, stats.misses(), "nothing unused to hit");
        assertEquals(2, stats.deregistrations());
        assertEquals(0, stats.entries());
    }

    @Test
    void shouldRoundOutToPages() {
        try (Registration reg = cache.acquire(BASE + 100, PAGE, Access.LOCAL_READ)) {
            assertEquals(BASE, reg.address());
            assertEquals(2 * PAGE, reg.length());
            assertTrue(reg.covers(BASE + 100, PAGE));
            assertFalse(reg.covers(BASE + 100, 2 * PAGE));
        }
    }

    @Test
    void shouldHitSubRangeOfLiveRegistration() {
        try (Registration whole = cache.acquire(BASE, 8 * PAGE, Access.ALL);
             Registration part = cache.acquire(BASE + 3 * PAGE, 2 * PAGE, Access.REMOTE_READ)) {
            assertEquals(whole.remoteKey(), part.remoteKey());
            assertEquals(1, cache.stats().hits());
        }
    }

    @Test
    void shouldServeLessAccessFromMoreAndUpgradeWhenMissingARight() {
        Registration readOnly = cache.acquire(BASE, PAGE, Access.LOCAL_READ);
        Registration writable = cache.acquire(BASE, PAGE, Access.REMOTE_WRITE);
        assertNotEquals(readOnly.localKey(), writable.localKey(), "an upgrade registers anew");
        assertTrue(writable.access().includes(Access.REMOTE_WRITE));
        assertTrue(readOnly.isValid(), "the held read-only registration stays valid for its holder");
        readOnly.close();
        assertEquals(1, device.liveRegions(), "the replaced one goes once released");
        try (Registration again = cache.acquire(BASE, PAGE, Access.LOCAL_READ)) {
            assertEquals(writable.localKey(), again.localKey(), "more access satisfies less");
        }
        writable.close();
    }

    @Test
    void shouldCountOverlappingRegistrationsOnceInPinnedBytes() {
        Registration first = cache.acquire(BASE, 8 * PAGE, Access.ALL);
        Registration union = cache.acquire(BASE + 4 * PAGE, 8 * PAGE, Access.ALL); // merged: [0, 12) pages
        CacheStats stats = cache.stats();
        assertEquals(20 * PAGE, stats.registeredBytes(), "the held [0, 8) and its union [0, 12)");
        assertEquals(12 * PAGE, stats.pinnedBytes(), "distinct pages: what the device pins");
        first.close(); // the retired one goes with its last holder
        assertEquals(12 * PAGE, cache.stats().registeredBytes());
        assertEquals(12 * PAGE, cache.stats().pinnedBytes());
        union.close();
        cache.invalidate(BASE, 12 * PAGE);
        assertEquals(0, cache.stats().pinnedBytes());
    }

    /**
     * The unprivileged run found this: with the reader at normal priority, a thread whose munmap
     * had returned (the reader had read the event) could still see the old entry in stats().
     */
    @Test
    void statsShouldWaitForEventsTheMonitorHasAlreadyTaken() throws Exception {
        ScriptedMonitor monitor = new ScriptedMonitor();
        cache.close();
        cache = RegistrationCache.builder(device).monitor(monitor).build();
        cache.acquire(BASE, 2 * PAGE, Access.ALL).close();
        monitor.take(); // the unmapping thread's munmap returns here
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50); // a reader at normal priority, late
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            monitor.deliver(MemoryEventKind.UNMAP, BASE, BASE + 2 * PAGE);
        });
        CacheStats stats = cache.stats();
        reader.join();
        assertEquals(0, stats.entries(), "the unmap the caller already returned from is applied: " + stats);
        assertEquals(1, stats.eventInvalidations());
        assertEquals(0, stats.registeredBytes());
    }

    @Test
    void shouldKeepReleasedRegistrationCached() {
        cache.acquire(BASE, 4 * PAGE, Access.LOCAL_WRITE).close();
        assertEquals(1, device.liveRegions(), "lazy deregistration");
        CacheStats stats = cache.stats();
        assertEquals(4 * PAGE, stats.registeredBytes());
        assertEquals(0, stats.inUseBytes());
        assertEquals(4 * PAGE, stats.unusedBytes());
    }

    @Test
    void shouldRegisterUnionOfPartialOverlapWhenMerging() {
        Registration held = cache.acquire(BASE, 4 * PAGE, Access.LOCAL_WRITE);
        cache.acquire(BASE + 8 * PAGE, 4 * PAGE, Access.REMOTE_READ).close();
        try (Registration merged = cache.acquire(BASE + 2 * PAGE, 8 * PAGE, Access.LOCAL_READ)) {
            assertEquals(BASE, merged.address());
            assertEquals(12 * PAGE, merged.length());
            assertTrue(merged.access().includes(Access.LOCAL_WRITE.with(Access.REMOTE_READ)));
        }
        assertTrue(held.isValid(), "held overlapped registration stays valid");
        assertEquals(2, device.liveRegions(), "unused overlapped one was replaced, held one kept");
        held.close();
        assertEquals(1, device.liveRegions());
        CacheStats stats = cache.stats();
        assertEquals(2, stats.replaced());
        assertEquals(1, stats.deferredDeregistrations());
        assertEquals(1, stats.entries());
    }

    @Test
    void shouldRegisterOnlyTheRangeAskedWhenNotMerging() {
        useCacheWithoutMerging();
        cache.acquire(BASE, 4 * PAGE, Access.LOCAL_WRITE).close();
        try (Registration reg = cache.acquire(BASE + 2 * PAGE, 4 * PAGE, Access.LOCAL_WRITE)) {
            assertEquals(BASE + 2 * PAGE, reg.address());
            assertEquals(4 * PAGE, reg.length());
        }
        assertEquals(1, device.liveRegions(), "the overlapped unused one was deregistered");
    }

    /**
     * Without merging, the chunks of a buffer that is not page-aligned share their edge pages, and
     * each chunk's registration stays beside its neighbours: every message after the first hits
     * (replacing the neighbour made every chunk of every message a miss).
     */
    @Test
    void chunksOfAnUnalignedBufferShouldHitAfterTheFirstMessage() {
        useCacheWithoutMerging();
        for (int message = 0; message < 5; message++) {
            Registration previous = null;
            for (int i = 0; i < 4; i++) { // two chunks in flight at a time, as a pipeline holds them
                Registration current = cache.acquire(UNALIGNED + i * CHUNK, CHUNK, Access.LOCAL_READ);
                assertTrue(current.isValid());
                if (previous != null) {
                    previous.close();
                }
                previous = current;
            }
            previous.close();
        }
        CacheStats stats = cache.stats();
        assertEquals(4, stats.misses(), "one per chunk, the first message");
        assertEquals(16, stats.hits());
        assertEquals(0, stats.replaced());
        assertEquals(4, device.liveRegions());
    }

    /** A page two neighbours share is under both: an event there invalidates both, held or not. */
    @Test
    void anEventOnASharedEdgePageShouldInvalidateBothNeighbours() {
        useCacheWithoutMerging();
        Registration left = cache.acquire(UNALIGNED, CHUNK, Access.LOCAL_READ);
        Registration right = cache.acquire(UNALIGNED + CHUNK, CHUNK, Access.LOCAL_READ);
        assertEquals(left.address() + left.length() - PAGE, right.address(), "they share one page");
        cache.invalidate(right.address() + 10, 1);
        assertFalse(left.isValid(), "left neighbour invalidated by an event on its last page");
        assertFalse(right.isValid(), "right neighbour invalidated by an event on its first page");
        left.close();
        right.close();
        try (Registration again = cache.acquire(UNALIGNED, CHUNK, Access.LOCAL_READ)) {
            assertTrue(again.isValid());
        }
        assertEquals(3, cache.stats().misses(), "nothing stale was hit");
    }

    @Test
    void shouldEvictLeastRecentlyUsedAndRetryWhenDeviceIsExhausted() {
        InMemoryTestDevice small = new InMemoryTestDevice(3 * PAGE, Long.MAX_VALUE);
        try (RegistrationCache limited = RegistrationCache.builder(small).build()) {
            for (int i = 0; i < 3; i++) {
                limited.acquire(BASE + 2 * i * PAGE, PAGE, Access.LOCAL_WRITE).close();
            }
            limited.acquire(BASE, PAGE, Access.LOCAL_WRITE).close(); // page 0 becomes most recent
            limited.acquire(BASE + 100 * PAGE, PAGE, Access.LOCAL_WRITE).close();
            assertFalse(small.isLive(BASE + 2 * PAGE, PAGE), "least recently used went first");
            assertTrue(small.isLive(BASE, PAGE));
            assertTrue(small.isLive(BASE + 4 * PAGE, PAGE));
            assertEquals(1, limited.stats().evictionsDeviceLimit());
        }
    }

    @Test
    void shouldNeverEvictInUseAndSayWhatIsPinnedWhenNothingIsLeft() {
        InMemoryTestDevice small = new InMemoryTestDevice(2 * PAGE, Long.MAX_VALUE);
        try (RegistrationCache limited = RegistrationCache.builder(small).build();
             Registration a = limited.acquire(BASE, PAGE, Access.LOCAL_WRITE);
             Registration b = limited.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE)) {
            ResourceExhaustedException e = assertThrows(ResourceExhaustedException.class,
                    () -> limited.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE));
            assertTrue(e.getMessage().contains("8 KiB (8192 bytes) pinned in 2 registrations"), e.getMessage());
            assertTrue(e.getMessage().contains("8 KiB (8192 bytes) in use"), e.getMessage());
            assertTrue(e.getMessage().contains("limit: device in-memory-test: test device full"), e.getMessage());
            assertTrue(a.isValid() && b.isValid());
            assertEquals(2, small.liveRegions());
        }
    }

    @Test
    void softLimitsShouldGoOverTheLimitsWhileAllIsHeldAndComeBackWithinThemAfter() {
        try (RegistrationCache soft = RegistrationCache.builder(device).maxEntries(2).maxBytes(2 * PAGE)
                .softLimits(true).monitor(MemoryMonitor.NONE).statsName("none").build()) {
            Registration a = soft.acquire(BASE, PAGE, Access.LOCAL_WRITE);
            Registration b = soft.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE);
            Registration c = soft.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE); // hard limits: exhausted
            assertTrue(a.isValid() && b.isValid() && c.isValid());
            assertEquals(3, soft.stats().entries(), "over maxEntries while all three are held");
            assertEquals(3 * PAGE, soft.stats().registeredBytes(), "over maxBytes while all three are held");
            a.close();
            b.close();
            c.close();
            soft.acquire(BASE + 6 * PAGE, PAGE, Access.LOCAL_WRITE).close();
            assertEquals(2, soft.stats().entries(), "the next miss evicted back within the limits");
            assertEquals(2 * PAGE, soft.stats().registeredBytes());
            assertEquals(2, soft.stats().evictionsMaxEntries() + soft.stats().evictionsMaxBytes());
        }
        try (RegistrationCache hard = RegistrationCache.builder(device).maxEntries(2).monitor(MemoryMonitor.NONE)
                .statsName("none").build();
             Registration a = hard.acquire(BASE, PAGE, Access.LOCAL_WRITE);
             Registration b = hard.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE)) {
            assertThrows(ResourceExhaustedException.class, () -> hard.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE),
                    "hard limits, the default, refuse");
            assertTrue(a.isValid() && b.isValid());
        }
    }

    @Test
    void shouldInvalidateUnusedNowAndHeldOnRelease() {
        cache.acquire(BASE, PAGE, Access.LOCAL_WRITE).close();
        Registration held = cache.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE);
        cache.invalidate(BASE, 8 * PAGE);
        assertFalse(held.isValid());
        assertEquals(1, device.liveRegions(), "unused deregistered at once, held one kept for its holder");
        try (Registration fresh = cache.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE)) {
            assertNotEquals(held.localKey(), fresh.localKey(), "never the stale registration");
            assertTrue(fresh.isValid());
        }
        held.close();
        assertEquals(1, device.liveRegions());
        CacheStats stats = cache.stats();
        assertEquals(2, stats.invalidations());
        assertEquals(1, stats.deferredDeregistrations());
        assertEquals(3, stats.misses());
    }

    @Test
    void shouldInvalidateHeldRegistrationThatAMergeReplaced() {
        Registration held = cache.acquire(BASE, 2 * PAGE, Access.LOCAL_WRITE);
        Registration merged = cache.acquire(BASE + PAGE, 4 * PAGE, Access.LOCAL_WRITE);
        cache.invalidate(BASE, PAGE);
        assertFalse(held.isValid(), "retired but held registrations are invalidated too");
        assertFalse(merged.isValid());
        held.close();
        merged.close();
        assertEquals(0, device.liveRegions());
    }

    @Test
    void shouldTrimUnusedOnly() {
        cache.acquire(BASE, 2 * PAGE, Access.LOCAL_WRITE).close();
        cache.acquire(BASE + 4 * PAGE, PAGE, Access.LOCAL_WRITE).close();
        try (Registration held = cache.acquire(BASE + 8 * PAGE, PAGE, Access.LOCAL_WRITE)) {
            assertEquals(2 * PAGE, cache.trim(PAGE), "one LRU entry is enough");
            assertEquals(PAGE, cache.trim(Long.MAX_VALUE));
            assertEquals(0, cache.trim(Long.MAX_VALUE));
            assertTrue(held.isValid());
            assertEquals(2, cache.stats().trimmed());
        }
    }

    @Test
    void shouldRejectBadInputAndStayUnchanged() {
        cache.acquire(BASE, PAGE, Access.LOCAL_WRITE).close();
        CacheStats before = cache.stats();
        assertThrows(IllegalArgumentException.class, () -> cache.acquire(BASE, 0, Access.LOCAL_WRITE));
        assertThrows(IllegalArgumentException.class, () -> cache.acquire(BASE, -PAGE, Access.LOCAL_WRITE));
        assertThrows(IllegalArgumentException.class, () -> cache.acquire(Long.MAX_VALUE - 10, 100, Access.LOCAL_WRITE));
        assertThrows(IllegalArgumentException.class, () -> cache.acquire(-PAGE, PAGE, Access.LOCAL_WRITE));
        assertThrows(IllegalArgumentException.class, () -> cache.invalidate(BASE, 0));
        assertThrows(IllegalArgumentException.class, () -> cache.trim(-1));
        assertThrows(IllegalArgumentException.class,
                () -> cache.acquire(java.lang.foreign.MemorySegment.ofArray(new byte[16]), Access.LOCAL_WRITE));
        device.markUnmapped(BASE + 16 * PAGE, PAGE);
        UnmappedMemoryException unmapped = assertThrows(UnmappedMemoryException.class,
                () -> cache.acquire(BASE + 15 * PAGE, 2 * PAGE, Access.LOCAL_WRITE));
        assertTrue(unmapped.getMessage().contains("not mapped"));
        // Overlapping an unused cached entry and running into unmapped memory leaves that entry in place.
        assertThrows(UnmappedMemoryException.class, () -> cache.acquire(BASE, 17 * PAGE, Access.LOCAL_WRITE));
        CacheStats after = cache.stats();
        assertEquals(before.entries(), after.entries());
        assertEquals(before.registeredBytes(), after.registeredBytes());
        assertEquals(before.registrations(), after.registrations());
        try (Registration reg = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE)) {
            assertTrue(reg.isValid());
        }
        assertEquals(before.hits() + 1, cache.stats().hits());
    }

    @Test
    void shouldLeaveNothingBehindWhenTheDeviceFails() {
        device.failNextRegistration(new DeviceException("I/O error"));
        DeviceException e = assertThrows(DeviceException.class, () -> cache.acquire(BASE, PAGE, Access.LOCAL_WRITE));
        assertEquals("I/O error", e.getMessage());
        assertEquals(0, cache.stats().entries());
        assertEquals(0, device.liveRegions());
    }

    @Test
    void shouldTolerateReleasingTwice() {
        Registration reg = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE);
        Registration other = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE);
        reg.close();
        reg.close();
        assertFalse(reg.isValid(), "a released handle is no longer valid for its holder");
        assertTrue(other.isValid());
        assertEquals(PAGE, cache.stats().inUseBytes(), "the second close did not drop the other holder");
        other.close();
        assertEquals(0, cache.stats().inUseBytes());
    }

    @Test
    void shouldDeregisterEverythingOnCloseAndRefuseAfterwards() {
        Registration held = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE);
        cache.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE).close();
        cache.close();
        cache.close();
        assertEquals(0, device.liveRegions());
        assertFalse(held.isValid());
        held.close();
        assertThrows(IllegalStateException.class, () -> cache.acquire(BASE, PAGE, Access.LOCAL_WRITE));
        assertThrows(IllegalStateException.class, () -> cache.invalidate(BASE, PAGE));
        assertEquals(0, cache.trim(Long.MAX_VALUE));
        assertTrue(cache.isClosed());
    }

    @Test
    void shouldAcquireNativeSegments() {
        try (Arena arena = Arena.ofConfined()) {
            var segment = arena.allocate(3 * PAGE, PAGE);
            try (Registration reg = cache.acquire(segment, Access.LOCAL_WRITE)) {
                assertEquals(segment.address(), reg.address());
                assertEquals(3 * PAGE, reg.length());
            }
        }
    }

    /** A registration for writing of a read-only segment is refused; for reading it is fine. */
    @Test
    void shouldRefuseAReadOnlySegmentForWriting() {
        try (Arena arena = Arena.ofConfined()) {
            var readOnly = arena.allocate(PAGE, PAGE).asReadOnly();
            for (Access access : new Access[] {Access.LOCAL_WRITE, Access.REMOTE_WRITE, Access.ALL}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> cache.acquire(readOnly, access), access.toString());
                assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            }
            assertEquals(0, device.registerCalls, "nothing registered for the refused ones");
            try (Registration reg = cache.acquire(readOnly, Access.REMOTE_READ)) {
                assertEquals(readOnly.address(), reg.address());
            }
        }
    }

    /** A segment whose arena is closed is refused: its memory may belong to someone else by now. */
    @Test
    void shouldRefuseASegmentWhoseArenaIsClosed() {
        MemorySegment closed;
        try (Arena arena = Arena.ofConfined()) {
            closed = arena.allocate(PAGE, PAGE);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> cache.acquire(closed, Access.REMOTE_READ));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertEquals(0, device.registerCalls, "nothing registered");
    }

    @Test
    void shouldValidateSettings() {
        assertThrows(IllegalArgumentException.class, () -> RegistrationCache.builder(device).maxBytes(100).build());
        assertThrows(IllegalArgumentException.class, () -> RegistrationCache.builder(device).maxEntries(0).build());
        assertThrows(NullPointerException.class, () -> RegistrationCache.builder(null));
    }

    @Test
    void shouldReadSettingsFromSystemProperties() {
        System.setProperty(RegistrationCacheBuilder.MAX_ENTRIES_PROP_NAME, "1");
        try (RegistrationCache fromProperty = RegistrationCache.builder(device).build()) {
            fromProperty.acquire(BASE, PAGE, Access.LOCAL_WRITE).close();
            fromProperty.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE).close();
            assertEquals(1, fromProperty.stats().evictionsMaxEntries());
        } finally {
            System.clearProperty(RegistrationCacheBuilder.MAX_ENTRIES_PROP_NAME);
        }
        System.setProperty(RegistrationCacheBuilder.MAX_BYTES_PROP_NAME, "lots");
        try {
            RegistrationCacheBuilder builder = RegistrationCache.builder(device); // properties are read by build()
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
            assertTrue(e.getMessage().contains("memreg.cache.maxBytes=lots"), e.getMessage());
            RegistrationCache.builder(device).maxBytes(1 << 20).build().close(); // a setter's value wins
        } finally {
            System.clearProperty(RegistrationCacheBuilder.MAX_BYTES_PROP_NAME);
        }
    }

    @Test
    void shouldClearARangeForMigrationOnceItsHoldersRelease() throws Exception {
        cache.acquire(BASE, PAGE, Access.LOCAL_WRITE).close();
        Registration held = cache.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE);
        Registration outside = cache.acquire(BASE + 10 * PAGE, PAGE, Access.LOCAL_WRITE);
        assertEquals(1, cache.retireAndAwaitRelease(BASE, 4 * PAGE, java.time.Duration.ofMillis(20)),
                "one registration is held: the range is busy");
        assertTrue(held.isValid(), "a busy range's holder keeps a valid registration");
        try (Registration fresh = cache.acquire(BASE + 2 * PAGE, PAGE, Access.LOCAL_WRITE)) {
            assertNotEquals(held.localKey(), fresh.localKey(), "but no new holder gets the retired one");
        }
        Thread releaser = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(30);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            held.close();
        });
        assertEquals(0, cache.retireAndAwaitRelease(BASE, 4 * PAGE, java.time.Duration.ofSeconds(10)),
                "clear once the holder released");
        releaser.join();
        assertTrue(outside.isValid(), "registrations outside the range are untouched");
        assertEquals(1, device.liveRegions(), "only the outside one is left: the fresh one was retired too");
        outside.close();
        assertThrows(IllegalArgumentException.class,
                () -> cache.retireAndAwaitRelease(BASE, PAGE, java.time.Duration.ofMillis(-1)));
    }

    @Test
    void shouldHandOutTheSameEntryToConcurrentHolders() {
        Registration a = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE);
        Registration b = cache.acquire(BASE, PAGE, Access.LOCAL_WRITE);
        assertSame(a.entry(), b.entry());
        a.close();
        b.close();
    }
}
