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
    private static final int LEAVERS = 3;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void aPeerThatLeavesWhileTheReplyWaitsShouldNotEndTheWorker() throws Exception {
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), WireupGuardProbe.class,
                String.valueOf(LEAVERS));
        assertEquals("true", probe.text("survived"), "the worker survived its leavers");
        for (int i = 0; i < LEAVERS; i++) {
            assertEquals("halted=true", probe.text("leaver." + i), "leaver " + i + " left while the reply waited");
        }
        assertTrue(probe.value("freed") >= 1, "a waiting reply was freed: " + probe.value("freed"));
    }
}
