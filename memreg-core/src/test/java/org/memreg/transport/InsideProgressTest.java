package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.device.Access;
import org.memreg.ucx.UcxTestSupport;

/**
 * A completion stage runs inside the node's progress, on the thread that progresses it (the
 * progress thread, or a waiter that drives): there nothing of the node can finish. A stage that
 * waits for another of the node's futures ({@code get}, timed {@code get}, {@code join},
 * {@code Node.await}), progresses the node, connects or closes it, or closes or invalidates one of
 * its windows (no peer's acknowledgement of the revocation could come) must fail at once with a
 * clear error, and the node must serve on. Before, such a stage hung the progress thread for good, or the nested
 * progress round threw IndexOutOfBoundsException out of the caller's {@code progress()}. A
 * {@code sendCopy} that UCX cannot take at once sends from a copy there instead of waiting.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class InsideProgressTest {
    @ParameterizedTest(name = "progressThread={0}")
    @ValueSource(booleans = {true, false})
    void aStageThatWaitsProgressesOrClosesShouldFailClearlyAndTheNodeServeOn(boolean progressThread)
            throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = GoodPeer.loopback("server").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             // 16 KiB over UCX's rendezvous: a sendCopy that UCX cannot take at once
             Node client = GoodPeer.loopback("client").progressThread(progressThread).ucx("RNDV_THRESH", "1024").build();
             Arena arena = Arena.ofShared()) {
            Endpoint toServer = client.connect("127.0.0.1", server.port());
            Endpoint toClient = GoodPeer.accepted(server);
            MemorySegment first = arena.allocate(64);
            MemorySegment second = arena.allocate(64);
            CompletableFuture<Long> trigger = client.receive(1, first);
            CompletableFuture<Long> later = client.receive(2, second);
            Map<String, CompletableFuture<?>> stages = new LinkedHashMap<>();
            stages.put("get", trigger.thenApply(n -> {
                try {
                    return later.get();
                } catch (InterruptedException | ExecutionException e) {
                    throw new AssertionError(e);
                }
            }));
            stages.put("timed get", trigger.thenApply(n -> {
                try {
                    return later.get(1, TimeUnit.SECONDS);
                } catch (InterruptedException | ExecutionException | TimeoutException e) {
                    throw new AssertionError("not a timeout: the wait must fail at once", e);
                }
            }));
            stages.put("join", trigger.thenApply(n -> later.join()));
            stages.put("Node.await", trigger.thenApply(n -> client.await(later)));
            stages.put("Node.progress", trigger.thenApply(n -> client.progress()));
            stages.put("Node.close", trigger.thenRun(client::close));
            stages.put("Node.connect", trigger.thenApply(n -> client.connect("127.0.0.1", server.port())));
            Window window = client.allocateWindow(4096, Access.ALL);
            CompletableFuture<RemoteWindow> attaching = CompletableFuture.supplyAsync(() -> toClient.attach(window.key()));
            while (!progressThread && !attaching.isDone()) {
                client.progress(); // the client answers the describe; nothing else drives it
            }
            RemoteWindow attached = attaching.get(20, TimeUnit.SECONDS);
            stages.put("Window.invalidate", trigger.thenRun(window::invalidate));
            stages.put("Window.close", trigger.thenRun(window::close)); // no acknowledgement could come
            MemorySegment big = arena.allocate(16 << 10);
            big.fill((byte) 0x5a);
            CompletableFuture<Void> copied = trigger.thenRun(() -> toServer.sendCopy(4, big));

            MemorySegment message = arena.allocate(8);
            toClient.send(1, message).get(20, TimeUnit.SECONDS);
            assertEquals(8, trigger.get(20, TimeUnit.SECONDS));
            for (Map.Entry<String, CompletableFuture<?>> stage : stages.entrySet()) {
                Throwable failure = assertThrows(ExecutionException.class,
                        () -> stage.getValue().get(20, TimeUnit.SECONDS), stage.getKey()).getCause();
                Class<? extends Throwable> expected = stage.getKey().equals("Node.await")
                        ? TransportException.class : IllegalStateException.class;
                assertInstanceOf(expected, failure, stage.getKey() + ": " + failure);
                assertTrue(failure.getMessage().contains("inside the node's progress"), failure.getMessage());
            }
            copied.get(20, TimeUnit.SECONDS); // sendCopy inside the stage did not wait: it sent from a copy
            big.fill((byte) 0); // the caller's buffer is free once sendCopy returned
            MemorySegment bigIn = arena.allocate(16 << 10);
            CompletableFuture<Long> bigReceived = server.receive(4, bigIn);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!progressThread && !bigReceived.isDone() && System.nanoTime() < deadline) {
                client.progress(); // UCX's rendezvous needs the sender too, and nothing else drives it
            }
            assertEquals(16 << 10, bigReceived.get(20, TimeUnit.SECONDS));
            assertEquals(-1, bigIn.mismatch(arena.allocate(16 << 10).fill((byte) 0x5a)), "the copy's bytes arrived");
            toClient.send(2, message).get(20, TimeUnit.SECONDS);
            assertEquals(8, later.get(20, TimeUnit.SECONDS), "the node receives on, open");
            attached.put(0, message).get(20, TimeUnit.SECONDS); // the window is as it was: open, its key current
            attached.flush().get(20, TimeUnit.SECONDS);
            assertEquals(-1, window.segment().asSlice(0, 8).mismatch(message), "a put into the window");
            window.close(); // outside progress: it revokes and waits
            assertThrows(ExecutionException.class, () -> attached.put(0, message).get(20, TimeUnit.SECONDS));
            CompletableFuture<Long> atServer = server.receive(3, first);
            toServer.send(3, message).get(20, TimeUnit.SECONDS);
            assertEquals(8, atServer.get(20, TimeUnit.SECONDS), "and sends");
        }
    }
}
