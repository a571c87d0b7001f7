package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A peer that speaks UCX directly sends a node without a secret hellos with damaged worker
 * addresses, cut short, of a version UCX does not know, or damaged inside where UCX 1.13 aborted
 * or crashed: the node refuses each and serves on. In a child JVM, so that an abort fails this
 * test rather than the suite.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ForgedHelloTest {
    @Test
    void damagedWorkerAddressesInHellosShouldNotStopTheNode() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = System.nanoTime();
        System.out.println("ForgedHelloTest seed " + seed);
        // UCX logs to stdout, where its lines could split the child's (an abort is reported all the same)
        ChildJvm child = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), ForgedHelloChild.class,
                String.valueOf(seed));
        assertTrue(Integer.parseInt(child.text("hellos")) > 20, "hellos sent: " + child.text("hellos"));
        assertEquals("true", child.text("served"), "a good peer is served after them (seed " + seed + ")");
    }
}
