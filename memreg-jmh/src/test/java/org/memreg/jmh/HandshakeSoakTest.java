package org.memreg.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A short slice of {@link HandshakeSoak} (bin/soak-handshake runs 1,000): both cores busy, 50 refusals. */
class HandshakeSoakTest {
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aListenerShouldRefuseAnotherErrorModeUnderLoadAndServeAGoodPeerAfterEach() throws Exception {
        HandshakeSoak.Result result = HandshakeSoak.run(50, Runtime.getRuntime().availableProcessors(), false);
        System.out.println("soak slice: " + result);
        assertEquals(50, result.refusedWithReason(), "each client of the other mode was refused, saying why");
        assertEquals(50, result.goodRoundTrips(), "and the good peer was served after each");
    }
}
