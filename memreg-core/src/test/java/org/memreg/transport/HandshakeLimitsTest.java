package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
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
        // One a second: the next connection is shed for about a second after each, longer than the
        // hasty client waits (400 ms), even on a loaded machine (at 5 a second and 50 ms, the node's
        // refusal came too late under load, and the client reported no answer instead)
        try (Node server = loopback("rated").connectionRate(1).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = loopback("eager").build();
             Node hasty = loopback("hasty").connectTimeout(Duration.ofMillis(400)).build()) {
            for (int i = 0; i < 3; i++) {
                client.connect("127.0.0.1", server.port()).close(); // one at once, then one a second
            }
            assertTrue(server.handshakeStats().shed() > 0, "some were shed: " + server.handshakeStats());
            assertEquals(3, server.handshakeStats().completed());
            TransportException busy = assertThrows(TransportException.class,
                    () -> hasty.connect("127.0.0.1", server.port()));
            assertTrue(busy.getMessage().contains("connections a second"), busy.getMessage());
        }
    }

    /** A node that said it was busy and then did not answer in time is reported busy, with its reason. */
    @Test
    void aNodeBusyAndThenSilentShouldBeReportedBusy() throws Exception {
        try (ServerSocket node = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> answers = CompletableFuture.runAsync(() -> {
                try (Socket first = node.accept()) {
                    ByteBuffer refusal = Handshake.refuse(Handshake.Reason.BUSY, "more than 1 connections a second");
                    first.getOutputStream().write(refusal.array(), refusal.position(), refusal.remaining());
                    first.getOutputStream().flush();
                    try (Socket second = node.accept()) {
                        second.getInputStream().read(new byte[4096]); // the hello, then nothing: silent
                        Thread.sleep(1000);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            TransportException e = assertThrows(TransportException.class, () -> Handshake.connectPatiently(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), node.getLocalPort()), "the node", 1,
                    ErrorMode.PEER, null, TimeUnit.MILLISECONDS.toNanos(300)));
            assertTrue(e.getMessage().contains("connections a second"), e.getMessage());
            assertEquals(1, e.getSuppressed().length, "the silence, kept");
            assertTrue(e.getSuppressed()[0].getMessage().contains("within the connect timeout"));
            answers.get(10, TimeUnit.SECONDS);
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
