package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * Eviction against the real kernel limit: in a process without CAP_IPC_LOCK, a working set twice
 * RLIMIT_MEMLOCK still registers (the cache evicts when mlock says ENOMEM), and when everything
 * is held the cache fails cleanly, naming what is pinned and the limit.
 */
@Unprivileged
class CacheRlimitTest {
    @Test
    void shouldEvictPastRlimitMemlockAndFailCleanlyWhenAllIsHeld() throws Exception {
        ChildJvm probe = ChildJvm.withoutIpcLock(CacheRlimitProbe.class);
        long soft = probe.value("soft");
        assumeTrue(soft >= (4L << 20) && soft < (15L << 20), "RLIMIT_MEMLOCK must be 4..15 MiB for this test");
        assertEquals(48, probe.value("succeeded"), "every acquire of the 16 MiB working set succeeded");
        assertTrue(probe.value("evictions") >= 16, "evicted to make room: " + probe.value("evictions"));
        assertTrue(probe.value("maxVmLck") <= soft, "never above the limit");
        long held = probe.value("held");
        assertEquals(soft >> 20, held, "held as many 1 MiB chunks as the limit allows");
        String message = probe.text("exhausted");
        assertTrue(message.contains("nothing unused to evict") && message.contains("RLIMIT_MEMLOCK"), message);
        assertTrue(message.contains("pinned in " + held + " registrations"), message);
        assertEquals("true", probe.text("allValid"), "no held registration was evicted");
        assertEquals(held << 20, probe.value("heldVmLck"));
        assertEquals(0, probe.value("closedVmLck"), "close leaves nothing locked");
    }
}
