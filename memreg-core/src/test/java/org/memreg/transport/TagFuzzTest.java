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
import org.memreg.util.TestSeeds;

/**
 * A peer's random tagged messages across memreg's whole tag space ({@link TagFuzzer}) neither end
 * nor corrupt a node, nor leave work behind in it, while a friend's messages, puts and gets go on
 * byte for byte. With the receive's check that a rendezvous message fits its buffer taken out,
 * the child JVM died in three runs of three (exit 134): chunks landed past the buffer. The suite
 * runs a short slice, a seed over shared memory and one over TCP; {@code
 * -Dmemreg.test.fuzzMessages=N} runs N messages per seed.
 */
@Unprivileged
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class TagFuzzTest {
    private static final int MESSAGES = Integer.getInteger("memreg.test.fuzzMessages", 500);
    /** A seed over the transports a node takes by default on one host, one over TCP (memreg's guard reads its frames). */
    private static final List<Map<String, String>> TRANSPORTS = List.of(Map.of("UCX_LOG_LEVEL", "fatal"),
            Map.of("UCX_LOG_LEVEL", "fatal", "UCX_TLS", "tcp"));

    @Test
    void randomTaggedMessagesFromAPeerShouldNeitherEndNorCorruptTheNode() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("TagFuzzTest");
        for (int i = 0; i < TRANSPORTS.size(); i++) {
            ChildJvm fuzzer = ChildJvm.run(TRANSPORTS.get(i), List.of(), TagFuzzer.class, Long.toString(seed + i),
                    Integer.toString(MESSAGES));
            assertEquals("true", fuzzer.text("survived"), "seed " + (seed + i));
            assertEquals(MESSAGES, fuzzer.value("sent"));
            assertEquals(0, fuzzer.value("leaks"), "seed " + (seed + i) + ": operations left in the node");
            assertEquals(MESSAGES / 100 + 2, fuzzer.value("checks"), "seed " + (seed + i) + ": the friend's checks");
            assertTrue(fuzzer.value("streamed") > 0, "the friend's stream went on");
            assertTrue(fuzzer.text("receives").contains("malformed rendezvous header"),
                    "the node's receives met forged headers: " + fuzzer.text("receives"));
        }
    }
}
