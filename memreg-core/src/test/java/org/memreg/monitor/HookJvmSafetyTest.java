package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;

/**
 * The hooks' handler runs on the JVM's own threads (GC, VM) whenever they unmap: a JVM whose
 * heap grows and shrinks, whose threads come and go, and whose caches churn memory, must run for
 * its bounded time with no deadlock or crash, with G1 and with ZGC; the handler must have run for
 * the JVM's unmaps; the caches must have stayed correct; the hooks must still work.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HookJvmSafetyTest {
    @ParameterizedTest
    @ValueSource(strings = {"-XX:+UseG1GC", "-XX:+UseZGC"})
    void shouldSurviveGarbageCollectionAndThreadChurnWithTheHooksInstalled(String collector) throws Exception {
        ChildJvm child = ChildJvm.run(List.of(collector, "-Xms16m", "-Xmx768m", "-XX:MinHeapFreeRatio=5",
                "-XX:MaxHeapFreeRatio=10", "-XX:ZUncommitDelay=1"), GcChurnChild.class, "6");
        assertTrue(child.value("collections") > 10, "collections: " + child.value("collections"));
        // at most half: the child waits while more than half is committed (ZGC uncommitted exactly half once)
        assertTrue(child.value("finalCommitted") <= child.value("maxCommitted") / 2, "the heap grew and shrank: "
                + child.value("maxCommitted") + " committed at most, " + child.value("finalCommitted") + " at the end");
        assertTrue(child.value("threadsStarted") > 100);
        assertTrue(child.value("acquires") > 1000);
        assertEquals(0, child.value("stale"), "no stale registration under churn");
        assertTrue(child.value("handlerCalls") > 100, "the handler ran for the JVM's unmaps");
        assertEquals("working", child.text("hooks"));
    }
}
