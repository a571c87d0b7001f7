package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * Two JVMs on loopback: this one and an {@link EchoPeer} child. Every test kills its child in
 * a finally block and has a time limit; a hang fails the test.
 */
class TwoProcessTransportTest {
    private static final Map<String, String> LOOPBACK = Map.of("UCX_NET_DEVICES", "lo");
    private static final long MIB = 1L << 20;

    private static long seed(String test) {
        return TestSeeds.seed(test);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldEchoMessagesFrom8BytesTo64MiBAndPutGetAWindow() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = seed("shouldEchoMessagesFrom8BytesTo64MiBAndPutGetAWindow");
        try (TransportPeers.Child child = TransportPeers.start("127.0.0.1", List.of(), LOOPBACK, List.of());
                Node node = Node.builder().name("test").ucx("NET_DEVICES", "lo").build();
                Arena arena = Arena.ofShared()) {
            Endpoint peer = node.connect("127.0.0.1", child.port());
            TransportPeers.echoAndWindow(node, peer, arena, seed);
            long peerPeak = TransportPeers.stop(node, peer);
            System.out.printf("peak registered: here %d, peer %d bytes%n", node.peakRegisteredBytes(), peerPeak);
        }
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void shouldPinAtMostAFewChunksFor256MiB() throws Exception {
        UcxTestSupport.assumeUcx();
        long cache = 8 * MIB; // four 2 MiB chunks
        List<String> options = List.of("-Dmemreg.transport.cacheBytes=" + cache);
        try (TransportPeers.Child child = TransportPeers.start("127.0.0.1", List.of(), LOOPBACK, options);
                Node node = Node.builder().name("test").ucx("NET_DEVICES", "lo").cacheBytes(cache).build();
                Arena arena = Arena.ofShared()) {
            Endpoint peer = node.connect("127.0.0.1", child.port());
            long size = 256 * MIB;
            MemorySegment out = arena.allocate(size, 4096);
            MemorySegment in = arena.allocate(size, 4096);
            node.resetPeakRegisteredBytes();
            long nanos = TransportPeers.echo(node, peer, out, in, size, 256);
            long peerPeak = TransportPeers.stop(node, peer);
            System.out.printf("256 MiB echo in %.0f ms; peak registered here %d bytes, at the peer %d bytes"
                    + " (chunk %d, cache limit %d)%n", nanos / 1e6, node.peakRegisteredBytes(), peerPeak,
                    NodeBuilder.CHUNK_BYTES_DEFAULT, cache);
            assertTrue(node.peakRegisteredBytes() <= cache, "peak here " + node.peakRegisteredBytes());
            assertTrue(peerPeak <= cache, "peak at the peer " + peerPeak);
            assertTrue(node.peakRegisteredBytes() >= NodeBuilder.CHUNK_BYTES_DEFAULT, "chunks were registered");
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldFailClearlyWhenThePeerIsKilledMidTransferAndGoOnWithAnotherPeer() throws Exception {
        UcxTestSupport.assumeUcx();
        List<String> peerMode = List.of("-Dmemreg.transport.errorMode=peer");
        try (Node node = Node.builder().name("test").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER)
                .timeout(Duration.ofSeconds(15)).build();
                Arena arena = Arena.ofShared()) {
            long size = 256 * MIB;
            MemorySegment out = arena.allocate(size, 4096);
            MemorySegment in = arena.allocate(size, 4096);
            CompletableFuture<Long> send;
            long killedAt;
            try (TransportPeers.Child victim = TransportPeers.start("127.0.0.1", List.of(), LOOPBACK, peerMode)) {
                Endpoint peer = node.connect("127.0.0.1", victim.port());
                TransportPeers.echo(node, peer, out, in, 4096, 1); // the connection works
                TransportPeers.command(peer, size);
                send = peer.send(2, out);
                Thread.sleep(50);
                victim.process().destroyForcibly();
                killedAt = System.nanoTime();
                assertTrue(victim.process().waitFor(10, TimeUnit.SECONDS));
                ExecutionException e = assertThrows(ExecutionException.class, () -> send.get(30, TimeUnit.SECONDS),
                        "a send to a killed peer must fail, not hang or succeed");
                assertInstanceOf(TransportException.class, e.getCause());
                System.out.printf("killed peer noticed after %.0f ms: %s%n", (System.nanoTime() - killedAt) / 1e6,
                        e.getCause().getMessage());
                ExecutionException again = assertThrows(ExecutionException.class,
                        () -> peer.send(1, out.asSlice(0, 8)).get(30, TimeUnit.SECONDS));
                assertInstanceOf(TransportException.class, again.getCause());
            }
            try (TransportPeers.Child other = TransportPeers.start("127.0.0.1", List.of(), LOOPBACK, peerMode)) {
                Endpoint peer = node.connect("127.0.0.1", other.port());
                TransportPeers.echo(node, peer, out, in, 3 * MIB + 5, 2);
                TransportPeers.stop(node, peer);
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void shouldConnectByWorkerAddressOnTheSameHost() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node server = Node.builder().name("server").ucx("NET_DEVICES", "lo")
                .listen(new InetSocketAddress("127.0.0.1", 0)).build();
                Node client = Node.builder().name("client").ucx("NET_DEVICES", "lo").build();
                Arena arena = Arena.ofShared()) {
            Endpoint peer = client.connect(server.workerAddress());
            MemorySegment out = arena.allocate(4 * MIB, 4096);
            MemorySegment in = arena.allocate(4 * MIB, 4096);
            out.fill((byte) 3);
            CompletableFuture<Long> received = server.receive(11, in);
            assertEquals(4 * MIB, peer.send(11, out).get(30, TimeUnit.SECONDS));
            assertEquals(4 * MIB, received.get(30, TimeUnit.SECONDS));
            assertEquals(-1, out.mismatch(in));
            assertEquals(client.id(), server.accepted().peerId());
        }
    }
}
