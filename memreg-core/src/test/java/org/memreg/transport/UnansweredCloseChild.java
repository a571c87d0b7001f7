package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * {@link NodeCloseTest}'s probe: two nodes in this process; the client closes while UCX still
 * waits on the server, then the server must still serve a new peer. Prints {@code sendFailure=}
 * (the unreceived send's error), {@code served=true} and {@code closed=true}; a process that UCX
 * aborts prints neither of the last two.
 *
 * <p>Arguments: the nodes' {@code progressThread}, and the scenario: {@code unreceived} (a 1 MiB
 * rendezvous send the server never receives; {@code putUnreceived} the same with UCX's rendezvous
 * by put) or {@code putEcho} (UCX's rendezvous by put,
 * {@code RNDV_SCHEME=put_zcopy}: a few echoes, then the client closes while nobody progresses
 * the server, so that the endpoint's close waits for it in vain) or {@code refusedDrain} (a 64 MiB
 * message in 4 KiB chunks that the server refuses, then the client closes its endpoint while the
 * node still sends the empty chunks that drain the refusal: the node posted them on the closed
 * endpoint's freed UCX handle, a SIGSEGV in {@code ucp_tag_send_nbx}).
 */
public final class UnansweredCloseChild {
    private UnansweredCloseChild() {
    }

    public static void main(String[] args) throws Exception {
        boolean progressThread = Boolean.parseBoolean(args[0]);
        boolean putEcho = args[1].equals("putEcho");
        boolean refusedDrain = args[1].equals("refusedDrain");
        boolean put = putEcho || args[1].equals("putUnreceived");
        UnaryOperator<NodeBuilder> settings = b -> put
                ? b.progressThread(progressThread).ucx("RNDV_SCHEME", "put_zcopy") : b.progressThread(progressThread);
        if (refusedDrain) {
            drainWhileClosing(progressThread);
            return;
        }
        try (Node server = settings.apply(GoodPeer.loopback("server")).listen(new InetSocketAddress("127.0.0.1", 0))
                .build(); Arena arena = Arena.ofShared()) {
            Node client = settings.apply(GoodPeer.loopback("client")).build();
            CompletableFuture<Endpoint> connected = CompletableFuture.supplyAsync(
                    () -> client.connect("127.0.0.1", server.port()));
            Endpoint toClient;
            while ((toClient = server.accepted()) == null) {
                server.progress(); // harmless with a progress thread; without one nobody else drives the server
            }
            Endpoint toServer = connected.get(30, TimeUnit.SECONDS);
            CompletableFuture<Long> unreceived = null;
            if (putEcho) {
                MemorySegment out = arena.allocate(96 << 10);
                MemorySegment echo = arena.allocate(96 << 10);
                MemorySegment back = arena.allocate(96 << 10);
                for (int i = 0; i < 3; i++) {
                    CompletableFuture<Long> atServer = server.receive(1, echo);
                    CompletableFuture<Long> atClient = client.receive(2, back);
                    CompletableFuture<Long> sent = toServer.send(1, out);
                    progressUntil(atServer, server, client);
                    CompletableFuture<Long> echoed = toClient.send(2, echo);
                    progressUntil(CompletableFuture.allOf(atClient, sent, echoed), server, client);
                }
            } else {
                unreceived = toServer.send(7, arena.allocate(1 << 20, 4096));
                for (int i = 0; i < 1000; i++) {
                    client.progress(); // the header and the chunk's rendezvous go out
                }
            }
            client.close();
            if (unreceived != null) {
                try {
                    unreceived.get(10, TimeUnit.SECONDS);
                    System.out.println("sendFailure=none");
                } catch (ExecutionException e) {
                    System.out.println("sendFailure=" + e.getCause().getMessage());
                }
            }
            assertServed(server, progressThread);
            System.out.println("served=true");
        }
        System.out.println("closed=true");
    }

    private static void drainWhileClosing(boolean progressThread) throws Exception {
        try (Node server = GoodPeer.loopback("server").progressThread(progressThread)
                .listen(new InetSocketAddress("127.0.0.1", 0)).build();
                Node client = GoodPeer.loopback("client").progressThread(progressThread).chunkBytes(4096)
                        .eagerBytes(32).pipelineDepth(1).build();
                Arena arena = Arena.ofShared()) {
            CompletableFuture<Endpoint> connected = CompletableFuture.supplyAsync(
                    () -> client.connect("127.0.0.1", server.port()));
            while (server.accepted() == null) {
                server.progress();
            }
            Endpoint toServer = connected.get(30, TimeUnit.SECONDS);
            CompletableFuture<Long> refusing = server.receive(5, arena.allocate(1024));
            CompletableFuture<Long> sent = toServer.send(5, arena.allocate(64L << 20, 4096));
            progressUntil(sent.handle((n, e) -> e), server, client); // refused: 16,384 empty chunks to go
            toServer.close();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (System.nanoTime() < deadline) { // what is left of the drain runs on the closed endpoint
                server.progress();
                client.progress();
            }
            System.out.println("sendFailure=" + sent.exceptionNow().getMessage());
            System.out.println("receiveFailure=" + refusing.exceptionNow().getMessage());
            assertServed(server, progressThread);
            System.out.println("served=true");
        }
        System.out.println("closed=true");
    }

    private static void progressUntil(CompletableFuture<?> done, Node... nodes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!done.isDone() && System.nanoTime() < deadline) {
            for (Node node : nodes) {
                node.progress();
            }
        }
        done.get(1, TimeUnit.SECONDS);
    }

    /** A new peer is served; without a progress thread a helper thread drives the server meanwhile. */
    private static void assertServed(Node server, boolean progressThread) throws Exception {
        if (progressThread) {
            GoodPeer.assertServed(server, b -> b);
            return;
        }
        Thread driver = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                server.progress();
            }
        });
        try {
            GoodPeer.assertServed(server, b -> b);
        } finally {
            driver.interrupt();
            driver.join();
        }
    }
}
