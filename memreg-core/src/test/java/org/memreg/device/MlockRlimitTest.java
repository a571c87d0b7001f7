package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * The real "out of pin resources" condition: a process without CAP_IPC_LOCK reaching
 * RLIMIT_MEMLOCK. The test JVM is root with the capability, so the probe runs in a child JVM
 * started through {@code setpriv} with CAP_IPC_LOCK dropped.
 */
@Unprivileged
class MlockRlimitTest {
    @Test
    void shouldTurnRlimitMemlockIntoResourceExhaustedAndTellUnmappedApart() throws Exception {
        ChildJvm probe = ChildJvm.withoutIpcLock(MlockRlimitProbe.class);
        long soft = probe.value("soft");
        assumeTrue(soft > 0 && soft < (15L << 20), "RLIMIT_MEMLOCK must be below 15 MiB for this test");
        assertTrue(probe.text("exhausted").contains("RLIMIT_MEMLOCK soft limit " + soft), probe.text("exhausted"));
        assertTrue(probe.text("exhausted").contains("raise RLIMIT_MEMLOCK (ulimit -l"), "says how to raise it: "
                + probe.text("exhausted"));
        long registered = probe.value("registered");
        assertEquals(probe.value("chunks") << 20, registered);
        assertTrue(registered <= soft && registered > soft - (2L << 20), "locked up to the limit: " + registered);
        assertEquals(registered, probe.value("vmlck"), "nothing of the refused chunk stayed locked");
        assertTrue(probe.text("unmapped").contains("not mapped"));
        assertEquals(0, probe.value("closed vmlck"));
    }
}
