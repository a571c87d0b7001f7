package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * A stranger's random UCP frames over TCP ({@link FrameFuzzer}) do not end a node. Before the frame
 * check refused UCP's message kinds memreg never sends and rendezvous RTSs not of their form, and
 * before the handler guard dropped software RMA completions where UCP asserts, every one of 28
 * seeds ended the child within 3 to 294 connections ({@code rndv.c:1771}, {@code tag_rndv.c:52},
 * {@code ucp_ep.inl:157}). The suite runs a short slice; {@code -Dmemreg.test.fuzzConnections=N}
 * runs N connections per seed.
 */
@Unprivileged
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class FrameFuzzTest {
    private static final int SEEDS = 3;
    private static final int CONNECTIONS = Integer.getInteger("memreg.test.fuzzConnections", 250);

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void randomFramesFromAStrangerShouldNotEndTheNode() throws Exception {
        long seed = TestSeeds.seed("FrameFuzzTest");
        for (int i = 0; i < SEEDS; i++) {
            ChildJvm fuzzer = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), FrameFuzzer.class,
                    Long.toString(seed + i), Integer.toString(CONNECTIONS));
            List<String> lines = fuzzer.lines();
            String last = lines.stream().filter(line -> line.startsWith("frames=")).reduce((a, b) -> b).orElse("none");
            assertEquals("true", fuzzer.text("survived"), "seed " + (seed + i) + ": the node ended at " + last
                    + "\n" + lines.stream().filter(line -> !line.startsWith("frames=")).toList());
            assertEquals(CONNECTIONS, fuzzer.value("sent"));
            assertEquals("served,served", fuzzer.text("received"), "seed " + (seed + i));
        }
    }
}
