package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.util.TestSeeds;

/**
 * Issue 12's stress test: threads munmap, mmap, madvise(DONTNEED), mremap and mmap(MAP_FIXED)
 * the same addresses and acquire concurrently ({@link CrossThreadChurn}). With the hooks no
 * acquire gets a registration older than its memory, as root and as an unprivileged user; without
 * a monitor (the control) stale registrations come back, so the check can fail. Seeded: reproduce
 * with {@code -Dmemreg.test.seed=N}.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class CrossThreadStaleTest {
    static final int THREADS = 4;
    /** Cycles per thread: 2,500 (the VM's emulated kernel takes fewer: -Dmemreg.test.crossThreadCycles). */
    static final int CYCLES = Integer.getInteger("memreg.test.crossThreadCycles",
            Boolean.getBoolean("memreg.test.long") ? 50_000 : 2_500);

    private static long seed(String what) {
        return TestSeeds.seed("CrossThreadStaleTest " + what);
    }

    @Test
    void hooksShouldNeverHandOutARegistrationOlderThanItsMemory() throws Exception {
        assertNoStale(CrossThreadChurn.run(HookMonitor.open(), THREADS, CYCLES, seed("hooks")));
    }

    @Test
    void hooksAndUserfaultfdShouldNeverHandOutARegistrationOlderThanItsMemory() throws Exception {
        assertNoStale(CrossThreadChurn.run(MemoryMonitors.open(MonitorMode.HOOKS_AND_USERFAULTFD), THREADS, CYCLES,
                seed("hooks+userfaultfd")));
    }

    @Test
    void strictShouldNeverHandOutARegistrationOlderThanItsMemory() throws Exception {
        CrossThreadChurn.Result result = CrossThreadChurn.run(UserfaultfdMonitor.openStrict(), THREADS, CYCLES,
                seed("strict"));
        assertNoStale(result);
    }

    @Test
    void hooksShouldHoldForAnUnprivilegedUser() throws Exception {
        ChildJvm child = ChildJvm.asNobody(CrossThreadChurn.class, "hooks", String.valueOf(THREADS),
                String.valueOf(CYCLES), String.valueOf(seed("hooks, unprivileged")));
        assertTrue(child.value("acquires") >= (long) THREADS * CYCLES);
        assertEquals(0, child.value("staleHits"), "stale hits as " + child.text("user"));
        assertEquals(0, child.value("staleTransfers"));
        assertEquals(0, child.value("hits"));
        assertEquals(0, child.value("refused"));
    }

    @Test
    void withoutAMonitorTheSameChurnGetsStaleRegistrations() throws Exception {
        CrossThreadChurn.Result result = CrossThreadChurn.run(MemoryMonitor.NONE, THREADS, CYCLES, seed("none"));
        System.out.println("  control, no monitor: " + result);
        assertTrue(result.staleHits() > 0, "the check catches stale registrations: " + result);
        // Not every hit need be stale: another thread's miss may have just registered a merged
        // range over this memory (after it was mapped). But a stale hit is always a hit.
        assertTrue(result.staleHits() <= result.hits(), "stale hits are hits: " + result);
    }

    private static void assertNoStale(CrossThreadChurn.Result result) {
        System.out.println("  " + result);
        assertTrue(result.acquires() >= (long) THREADS * CYCLES);
        assertEquals(0, result.staleHits(), "registrations older than their memory");
        assertEquals(0, result.staleTransfers(), "stale transfers the NIC saw");
        assertEquals(0, result.hits(), "every acquire was of new memory: no hit can be right");
        assertEquals(0, result.refused(), "no stale neighbour merged into a registration");
    }
}
