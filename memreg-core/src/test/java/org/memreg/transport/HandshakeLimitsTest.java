package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/** The listener's limits shed load, and a memreg client that meets them tries again until its timeout. */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HandshakeLimitsTest {
    @Test
    void connectionsOverTheRateShouldBeShedAndTriedAgain() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = loopback("rated").connectionRate(5).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = loopback("eager").build();
             Node hasty = loopback("hasty").connectTimeout(Duration.ofMillis(50)).build()) {
            for (int i = 0; i < 10; i++) {
                client.connect("127.0.0.1", server.port()).close(); // 5 at once, then 5 a second
            }
            assertTrue(server.handshakeStats().shed() > 0, "some were shed: " + server.handshakeStats());
            assertEquals(10, server.handshakeStats().completed());
            TransportException busy = assertThrows(TransportException.class,
                    () -> hasty.connect("127.0.0.1", server.port()));
            assertTrue(busy.getMessage().contains("connections a second"), busy.getMessage());
        }
    }

    @Test
    void clientsOverThePendingLimitShouldWaitForSlowHandshakesToTimeOut() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = loopback("small").maxPendingHandshakes(2).handshakeTimeout(Duration.ofMillis(300))
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Socket silent1 = new Socket(); Socket silent2 = new Socket()) {
            silent1.connect(new InetSocketAddress("127.0.0.1", server.port()));
            silent2.connect(new InetSocketAddress("127.0.0.1", server.port()));
            long start = System.nanoTime();
            GoodPeer.assertServed(server);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            HandshakeStats stats = server.handshakeStats();
            System.out.println("served after " + millis + " ms: " + stats);
            assertEquals(2, stats.timedOut(), "the silent clients were dropped at the timeout");
            assertTrue(stats.shed() > 0, "the good peer was shed while they held the slots: " + stats);
            assertEquals(1, stats.completed());
        }
    }
}
