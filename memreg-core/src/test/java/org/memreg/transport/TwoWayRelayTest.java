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
 * Completion stages run inside their node's progress, under its lock. A relay whose stages use
 * each other's node, both ways at once, held one lock each and waited for the other's: the JVM
 * hung within the first rounds (its deadlock report named the two threads). Now a thread that
 * holds one node's lock waits for another's at most the node's timeout ({@link NodeLock}), and the
 * stage fails with {@link IllegalStateException} saying to use an async stage; nothing hangs.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TwoWayRelayTest {
    @Test
    void stagesThatUseEachOthersNodeShouldFailNotDeadlock() throws Exception {
        UcxTestSupport.assumeUcx();
        int rounds = 3000;
        ChildJvm probe = ChildJvm.run(List.of(), TwoWayRelayProbe.class, Integer.toString(rounds));
        String output = String.join("\n", probe.lines());
        assertEquals("true", probe.text("served"), output);
        assertEquals(0, probe.value("other"), output);
        assertEquals(2L * rounds, probe.value("relayed") + probe.value("refused"), output);
        assertTrue(probe.value("relayed") > 0, "most forwards go through: " + output);
    }
}
