package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * Two nodes used by many threads at once, every way the API allows and some it refuses, one of
 * them closed under the threads at the end ({@link ManyThreadsProbe}, in a child JVM): the JVM
 * lives, every call ends in a result or one of the API's own exceptions, no thread hangs, and the
 * other node serves a new peer afterwards. The seed is
 * random and printed ({@code -Dmemreg.test.seed=} repeats a run). A throwaway first version found
 * a node that stopped revoking the keys of a peer's other endpoints ({@link EndpointsToOnePeerTest}).
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ManyThreadsTest {
    @Test
    void manyThreadsUsingAndMisusingTwoNodesShouldGetOnlyTheApisAnswers() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = Long.getLong("memreg.test.seed", System.nanoTime());
        System.out.println("ManyThreadsTest seed=" + seed);
        ChildJvm probe = ChildJvm.run(List.of(), ManyThreadsProbe.class, Long.toString(seed), "10", "6");
        String output = String.join("\n", probe.lines());
        assertEquals(0, probe.value("unexpected"), "seed " + seed + ": failures outside the API's own\n" + output);
        assertEquals(0, probe.value("hung"), "seed " + seed + ": threads that never returned\n" + output);
        assertEquals("true", probe.text("served"), "seed " + seed + ": a new peer served after it all\n" + output);
        for (String done : List.of("ok.message", "ok.rma")) { // the common two: the rest may not come up under load
            assertTrue(output.contains(done + "="), "seed " + seed + ": nothing came of " + done + "\n" + output);
        }
    }
}
