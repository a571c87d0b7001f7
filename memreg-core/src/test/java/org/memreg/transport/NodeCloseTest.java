package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.ucx.UcxTestSupport;

/**
 * A node closes while UCX still waits on its peer (a rendezvous the peer never received; an
 * endpoint's close the peer never answered), or an endpoint closes while its node still sends on
 * it (the empty chunks that drain a refused rendezvous): the process lives, the send fails with a clear
 * error, and the peer still serves others. UCX 1.13 aborted the process (an assertion in
 * {@code ucp_worker_destroy}) when the node left the unfinished requests unfreed. In a child JVM,
 * so that an abort fails this test rather than the suite.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class NodeCloseTest {
    @ParameterizedTest(name = "progressThread={0} {1}")
    @CsvSource({"false, unreceived", "true, unreceived", "false, putEcho", "false, refusedDrain",
        "true, refusedDrain"})
    void shouldCloseWhileThePeerLeavesUcxWaitingAndLive(boolean progressThread, String scenario)
            throws Exception {
        UcxTestSupport.assumeUcx();
        ChildJvm child = ChildJvm.run(List.of(), UnansweredCloseChild.class, String.valueOf(progressThread), scenario);
        assertEquals("true", child.text("closed"), "the process outlived both nodes' close");
        assertEquals("true", child.text("served"), "the server still serves a new peer");
        if (scenario.equals("unreceived")) {
            String failure = child.text("sendFailure");
            assertTrue(failure.contains("closing") || failure.contains("is closed"),
                    "the unreceived send fails as the node or its endpoint closes: " + failure);
        }
        if (scenario.equals("refusedDrain")) {
            assertTrue(child.text("sendFailure").contains("refused"), child.text("sendFailure"));
            assertTrue(child.text("receiveFailure").contains("does not fit the 1024-byte buffer"), child.text("receiveFailure"));
        }
    }

    /**
     * The unreceived case with UCX's rendezvous by put: UCX 1.13 used a second rail, a TCP lane,
     * and the close, with a wireup request on it waiting on the server that never progressed,
     * aborted the process in 4 of 12 runs ({@code ucp_worker_destroy} asserting on the pending
     * request). With one rail, as the node now asks for under put: none. Four children, so that
     * the old abort would show with a likelihood of some 80 %.
     */
    @Test
    void shouldCloseUnderARendezvousByPutThatThePeerNeverAnswered() throws Exception {
        UcxTestSupport.assumeUcx();
        for (int run = 0; run < 4; run++) {
            ChildJvm child = ChildJvm.run(List.of(), UnansweredCloseChild.class, "false", "putUnreceived");
            assertEquals("true", child.text("closed"), "run " + run + ": the process outlived both nodes' close");
            assertTrue(child.text("sendFailure").contains("clos"), child.text("sendFailure"));
        }
    }
}
