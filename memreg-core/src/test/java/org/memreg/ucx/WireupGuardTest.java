package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * memreg's guard over UCP 1.13's assertion on a failed endpoint's pending wire-up reply ({@link
 * WireupGuard}): a peer that leaves while a worker's reply to it waits for the connection to be
 * acknowledged ended the worker's process; now the reply is freed and the worker serves on.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class WireupGuardTest {
    /**
     * Up to this many leavers, until one left at that moment: each does unless it came too late,
     * which a loaded machine makes likelier (4 of 5 did on an idle one, 2 of 9 with both cores
     * busy twice over).
     */
    private static final int LEAVERS = 24;
    private static final int WANTED = 1;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void aPeerThatLeavesWhileTheReplyWaitsShouldNotEndTheWorker() throws Exception {
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), WireupGuardProbe.class,
                String.valueOf(LEAVERS), String.valueOf(WANTED));
        assertEquals("true", probe.text("survived"), "the worker survived its leavers");
        assertEquals(WANTED, probe.value("requests"), "leavers that left while the reply waited: " + probe.lines());
        assertTrue(probe.value("freed") >= 1, "a waiting reply was freed: " + probe.value("freed"));
    }
}
