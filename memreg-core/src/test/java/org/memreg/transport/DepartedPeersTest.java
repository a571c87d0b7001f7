package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * Peers that stopped progressing (hung, stalled, or progressing only when their caller waits)
 * while a node put into and got from their windows over TCP and left:
 * <ul>
 *   <li>the node's close waits for them together, not 2 s for each one after another;
 *   <li>when they progress again, they survive answering a node that has gone. Over TCP, UCX 1.13
 *       puts and gets in software: the receiver answers each put (a completion) and each get
 *       (the data), that answer failed on the closed connection, and UCX ended the process
 *       ({@code ucp_request.inl:346 Fatal: unexpected error: Endpoint timeout}): puts in both
 *       error modes, gets in PEER mode.
 * </ul>
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DepartedPeersTest {
    private static final long WAIT_PER_CLOSE_MILLIS = 2_000;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @ParameterizedTest
    @EnumSource(ErrorMode.class)
    void peersShouldSurviveThePutsAndGetsOfANodeThatLeftAndItsCloseWaitForThemTogether(ErrorMode mode)
            throws Exception {
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), DepartedPeersProbe.class,
                mode.name());
        assertEquals("true", probe.text("survived"));
        assertTrue(probe.value("sendsToDeparted") >= 1, "the peers answered the departed node: "
                + probe.value("sendsToDeparted"));
        // one close after another takes at least PEERS x 2 s (NONE); together about 2 s, well under it under load
        assertTrue(probe.value("closeMillis") < (DepartedPeersProbe.PEERS - 1) * WAIT_PER_CLOSE_MILLIS,
                "closed in " + probe.value("closeMillis") + " ms");
    }
}
