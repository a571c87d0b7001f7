package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * A thread that unmaps watched memory sleeps in the kernel until the userfaultfd reader reads the
 * event. When that thread is one the JVM must wait for to begin a safepoint (here a critical
 * downcall; in life also the JVM's own code freeing memory, or a GC thread inside a safepoint)
 * and the reader is a Java thread, the reader waits for the safepoint before it can read and the
 * JVM hangs for good: a Java reader hung this child at once, on its first unmap. The reader
 * thread of C must read through every safepoint: 300 critical unmaps under a garbage collection
 * loop finish, and every one is delivered.
 */
@Unprivileged
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class UserfaultfdJvmSafetyTest {
    @ParameterizedTest
    @ValueSource(strings = {"userfaultfd", "strict"})
    void unmapsThatASafepointWaitsForShouldNotHangTheJvm(String monitor) throws Exception {
        ChildJvm child = ChildJvm.run(List.of("-XX:+UseSerialGC", "-Xmx64m"), SafepointUnmapChild.class,
                "300", monitor);
        assertEquals(300, child.value("events"), "every unmap delivered");
        assertTrue(child.value("collections") > 10, "safepoints came meanwhile: " + child.value("collections"));
    }
}
