package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Long random sequences of acquire / release / invalidate / trim against {@link CacheModel}:
 * every answer, every handle's validity and every counter must agree after every step.
 * Reproduce a failure with {@code -Dmemreg.test.seed=<seed printed>}.
 */
@Unprivileged
class RegistrationCacheModelTest {
    static final long PAGE = 4096;
    static final long BASE = 0x7d00_0000_0000L;
    static final int SEQUENCES = Boolean.getBoolean("memreg.test.long") ? 2000 : 150;
    static final int STEPS = 1500;

    record Held(Registration registration, CacheModel.Reg reg) {}

    @Test
    void shouldAgreeWithTheReferenceModel() {
        long seed = TestSeeds.seed("RegistrationCacheModelTest");
        SplittableRandom seeds = new SplittableRandom(seed);
        for (int sequence = 0; sequence < SEQUENCES; sequence++) {
            long sequenceSeed = seeds.nextLong();
            try {
                runSequence(new SplittableRandom(sequenceSeed));
            } catch (AssertionError e) {
                throw new AssertionError("sequence seed " + sequenceSeed + " (base seed " + seed + "): " + e.getMessage(), e);
            }
        }
    }

    private void runSequence(SplittableRandom random) {
        long maxBytes = random.nextBoolean() ? Long.MAX_VALUE : PAGE * random.nextInt(8, 40);
        long maxEntries = random.nextBoolean() ? Long.MAX_VALUE : random.nextInt(2, 10);
        boolean merge = random.nextBoolean();
        long deviceBytes = random.nextBoolean() ? Long.MAX_VALUE : PAGE * random.nextInt(8, 48);
        long deviceRegions = random.nextBoolean() ? Long.MAX_VALUE : random.nextInt(3, 12);
        InMemoryTestDevice device = new InMemoryTestDevice(deviceBytes, deviceRegions);
        AtomicLong clock = new AtomicLong();
        CacheModel model = new CacheModel(maxBytes, maxEntries, merge, deviceBytes, deviceRegions);
        Map<CacheModel.Reg, Entry> entries = new IdentityHashMap<>();
        List<Held> held = new ArrayList<>();
        try (RegistrationCache cache = RegistrationCache.builder(device).maxBytes(maxBytes).maxEntries(maxEntries)
                .merge(merge).clock(clock::getAndIncrement).monitor(MemoryMonitor.NONE).statsName(null)
                .censusInterval(0).build()) { // statistics after every step: unpaced
            for (int step = 0; step < STEPS; step++) {
                int op = random.nextInt(100);
                String what;
                if (op < 50 || held.isEmpty()) {
                    what = acquire(random, cache, model, entries, held);
                } else if (op < 85) {
                    Held h = held.remove(random.nextInt(held.size()));
                    h.registration().close();
                    if (random.nextInt(10) == 0) {
                        h.registration().close(); // twice: harmless
                    }
                    model.release(h.reg());
                    what = "release " + h.registration();
                } else if (op < 95) {
                    long start = BASE + random.nextInt(64) * PAGE + random.nextInt((int) PAGE);
                    long length = 1 + random.nextLong(6 * PAGE);
                    cache.invalidate(start, length);
                    model.invalidate(start & -PAGE, (start + length + PAGE - 1) & -PAGE);
                    what = "invalidate " + start + "+" + length;
                } else {
                    long bytes = random.nextLong(10 * PAGE);
                    assertEquals(model.trim(bytes), cache.trim(bytes), "trim " + bytes);
                    what = "trim " + bytes;
                }
                compare(cache, model, device, held, "step " + step + " (" + what + ")");
            }
            for (Held h : held) {
                h.registration().close();
            }
        }
        assertEquals(0, device.liveRegions(), "close leaves nothing registered");
        assertEquals(0, device.protocolErrors);
    }

    private String acquire(SplittableRandom random, RegistrationCache cache, CacheModel model,
                           Map<CacheModel.Reg, Entry> entries, List<Held> held) {
        long address = BASE + random.nextInt(64) * PAGE + (random.nextInt(4) == 0 ? random.nextInt((int) PAGE) : 0);
        long length = random.nextInt(4) == 0 ? 1 + random.nextLong(3 * PAGE) : PAGE * random.nextInt(1, 9);
        Access access = Access.fromBits(random.nextInt(8));
        long start = address & -PAGE;
        long end = (address + length + PAGE - 1) & -PAGE;
        CacheModel.Outcome expected = model.acquire(start, end, access);
        String what = "acquire " + Long.toHexString(address) + "+" + length + " " + access;
        Registration actual;
        try {
            actual = cache.acquire(address, length, access);
        } catch (ResourceExhaustedException e) {
            assertNotNull(expected.failure(), what + ": cache failed but model did not: " + e.getMessage());
            assertTrue(e.getMessage().contains(expected.failure()), what + ": " + e.getMessage());
            return what + " -> exhausted";
        }
        if (expected.failure() != null) {
            fail(what + ": model failed (" + expected.failure() + ") but cache returned " + actual);
        }
        CacheModel.Reg reg = expected.reg();
        assertEquals(reg.start, actual.address(), what);
        assertEquals(reg.end - reg.start, actual.length(), what);
        assertEquals(reg.access, actual.access(), what);
        if (expected.hit()) {
            assertSame(entries.get(reg), actual.entry(), what + ": hit on the wrong registration");
        } else {
            entries.put(reg, actual.entry());
        }
        held.add(new Held(actual, reg));
        return what + (expected.hit() ? " -> hit" : " -> miss");
    }

    private void compare(RegistrationCache cache, CacheModel model, InMemoryTestDevice device, List<Held> held,
                         String where) {
        CacheStats s = cache.stats();
        assertEquals(model.hits, s.hits(), where + " hits");
        assertEquals(model.misses, s.misses(), where + " misses");
        assertEquals(model.registrations, s.registrations(), where + " registrations");
        assertEquals(model.deregistrations, s.deregistrations(), where + " deregistrations");
        assertEquals(model.evictionsDevice, s.evictionsDeviceLimit(), where + " device evictions");
        assertEquals(model.evictionsBytes, s.evictionsMaxBytes(), where + " maxBytes evictions");
        assertEquals(model.evictionsEntries, s.evictionsMaxEntries(), where + " maxEntries evictions");
        assertEquals(model.trimmed, s.trimmed(), where + " trimmed");
        assertEquals(model.replaced, s.replaced(), where + " replaced");
        assertEquals(model.invalidations, s.invalidations(), where + " invalidations");
        assertEquals(model.deferred, s.deferredDeregistrations(), where + " deferred");
        assertEquals(model.entries(), s.entries(), where + " entries");
        assertEquals(model.retiredEntries(), s.retiredEntries(), where + " retired");
        assertEquals(model.registeredBytes, s.registeredBytes(), where + " registeredBytes");
        assertEquals(model.pinnedBytes(), s.pinnedBytes(), where + " pinnedBytes (distinct pages)");
        assertTrue(s.pinnedBytes() <= s.registeredBytes(), where + " pinned within registered");
        assertEquals(model.inUseBytes(), s.inUseBytes(), where + " inUseBytes");
        assertEquals(model.registeredBytes, device.registeredBytes(), where + " device bytes");
        assertTrue(s.registeredBytes() <= model.maxBytes, where + " within maxBytes");
        assertTrue(s.entries() + s.retiredEntries() <= model.maxEntries, where + " within maxEntries");
        for (Held h : held) {
            assertEquals(!h.reg().invalid && !h.reg().dead, h.registration().isValid(), where + " validity of " + h);
        }
    }
}
