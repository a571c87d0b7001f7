package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;

/**
 * A lost hook (another library overriding UCM's patch of libc's munmap, UCX issues #4866 and
 * #3686) is detected by the periodic check, reported in a log line and a counter, and the cache
 * on {@code hooks+userfaultfd} still never hands out the old registration. In a child JVM, since
 * the test rewrites libc's code.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HookLossTest {
    @Test
    void shouldDetectReportAndSurviveALostHook() throws Exception {
        ChildJvm child = ChildJvm.run(List.of("-D" + HookCheck.PERIOD_PROP_NAME + "=50"), HookLossChild.class);
        assertEquals("working", child.text("before"));
        assertEquals("true", child.text("unpatched"), "only UCM's jump differed from libc's file");
        assertEquals(1, child.value("hookFailures"), "counted once");
        assertTrue(child.value("noticedMillis") < 2_000, "noticed within a few check periods");
        assertTrue(child.text("check").contains("munmap"), child.text("check"));
        assertTrue(child.lines().stream().anyMatch(l -> l.contains("memory hooks lost")), "a log line says so");
        assertEquals(0, child.value("hitsAfterLoss"), "userfaultfd still invalidated the unmapped registration");
    }
}
