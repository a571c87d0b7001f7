package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.device.Access;
import org.memreg.linux.SysConf;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;

/** Misuse of nodes, endpoints and windows: each a clear error, none a hang or a crash. */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NodeBadUseTest {
    private LoopbackPair pair;
    private Node server;
    private Node client;
    private Endpoint endpoint;
    private Arena arena;

    @BeforeEach
    void connect() {
        pair = LoopbackPair.connect(b -> b.connectTimeout(Duration.ofSeconds(2)));
        server = pair.server();
        client = pair.client();
        endpoint = pair.endpoint();
        arena = pair.arena();
    }

    @AfterEach
    void close() {
        if (pair != null) {
            client.close(); // closing twice is harmless: once here, once by the pair
            pair.close();
        }
    }

    private static Throwable failure(CompletableFuture<?> future) {
        return assertThrows(ExecutionException.class, () -> future.get(20, TimeUnit.SECONDS)).getCause();
    }

    @Test
    void shouldRefuseAnUnknownPeerWithinTheConnectTimeout() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // free once closed: nobody listens there
        }
        long start = System.nanoTime();
        TransportException e = assertThrows(TransportException.class, () -> client.connect("127.0.0.1", port));
        System.out.println("unknown peer: " + e.getMessage());
        assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10));
        assertThrows(TransportException.class, () -> client.connect("no-such-host.invalid", 1));
        assertEquals(8, endpoint.send(1, arena.allocate(8)).get(10, TimeUnit.SECONDS), "others go on");
    }

    /** A connect nobody answers leaves nothing behind: its reply's receive stayed posted for good, one per try. */
    @Test
    void anUnansweredConnectShouldLeaveNoOperationBehind() throws Exception {
        try (RawUcxPeer silent = new RawUcxPeer()) { // a UCX worker that never answers a hello
            byte[] address = new NodeAddress(Handshake.VERSION, ErrorMode.NONE, 42, silent.address()).toBytes();
            client.progress();
            int before = client.operations();
            for (int i = 0; i < 3; i++) {
                TransportException e = assertThrows(TransportException.class, () -> client.connect(address));
                assertTrue(e.getMessage().contains("no memreg node answered"), e.getMessage());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (client.operations() > before) { // the cancelled receives finish on a later round
                assertTrue(System.nanoTime() < deadline, client.operations() + " operations, " + before + " before");
                client.progress();
                silent.progress(); // UCX's set-up, which the endpoints' close may wait for (UCX_RNDV_SCHEME=put_zcopy)
                Thread.sleep(1);
            }
        }
        assertEquals(8, endpoint.send(1, arena.allocate(8)).get(10, TimeUnit.SECONDS), "others go on");
    }

    /**
     * An endpoint whose peer said goodbye, closed after its node: its remote keys were destroyed
     * then, after the worker that held their memory (a write into freed memory; UcxWorker now
     * refuses it). They go once UCX has closed the failed endpoint instead.
     */
    @Test
    void aFailedEndpointShouldCloseAfterItsNodeWithoutTouchingItsKeys() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        RemoteWindow remote = endpoint.attach(window.key());
        remote.put(0, arena.allocate(8, 8)).get(10, TimeUnit.SECONDS);
        Endpoint toClient = GoodPeer.accepted(server);
        toClient.close(); // says goodbye: the client's endpoint fails
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (endpoint.isUsable()) {
            assertTrue(System.nanoTime() < deadline, "the client heard the goodbye");
            Thread.sleep(1);
        }
        client.close();
        endpoint.close();
        assertInstanceOf(TransportException.class, failure(remote.put(0, arena.allocate(8, 8))));
    }

    @Test
    void shouldRefuseAClientWithAnotherErrorModeWithoutCrashing() throws Exception {
        // The listener used to reject the request after UCX had already rejected and freed it:
        // a SIGSEGV in uct_listener_reject that took the whole JVM down.
        try (Node peerMode = Node.builder().name("peer-mode").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER)
                     .listen(new InetSocketAddress("127.0.0.1", 0)).connectTimeout(Duration.ofSeconds(2)).build();
             Node noneMode = Node.builder().name("none-mode").ucx("NET_DEVICES", "lo")
                     .connectTimeout(Duration.ofSeconds(2)).build();
             Node matching = Node.builder().name("matching").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER)
                     .connectTimeout(Duration.ofSeconds(2)).build()) {
            for (int attempt = 0; attempt < 3; attempt++) {
                try {
                    noneMode.connect("127.0.0.1", peerMode.port()).close();
                } catch (TransportException refused) {
                    assertTrue(refused.getMessage().contains("127.0.0.1:" + peerMode.port()), refused.getMessage());
                }
            }
            Endpoint good = matching.connect("127.0.0.1", peerMode.port());
            assertEquals(8, good.send(1, arena.allocate(8)).get(10, TimeUnit.SECONDS), "the listener still serves");
        }
    }

    @Test
    void shouldFailSendsOnAClosedEndpoint() {
        endpoint.close();
        endpoint.close();
        Throwable e = failure(endpoint.send(1, arena.allocate(8)));
        assertInstanceOf(TransportException.class, e);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(TransportException.class, () -> endpoint.attach(server.allocateWindow(4096, Access.ALL).key()));
    }

    /**
     * UCX writes through the address, past Java's read-only view: a receive into a file mapped
     * read-only was a SIGSEGV in UCX's copy once a message came, and the JVM died. Each way of
     * writing into a read-only segment is refused before anything is posted, and the node serves on.
     */
    @Test
    void shouldRefuseToWriteIntoAReadOnlySegment() throws Exception {
        Path file = Files.createTempFile("memreg-read-only", ".bin");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(8192));
        }
        MemorySegment mapped;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, 8192, arena);
        } finally {
            Files.delete(file);
        }
        MemorySegment view = arena.allocate(8192, 4096).asReadOnly();
        for (MemorySegment readOnly : List.of(mapped, view)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> server.receive(5, readOnly));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        }
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        RemoteWindow remote = endpoint.attach(window.key());
        Throwable get = failure(remote.get(0, view));
        assertInstanceOf(IllegalArgumentException.class, get);
        assertTrue(get.getMessage().contains("read-only"), get.getMessage());
        assertThrows(IllegalArgumentException.class, () -> server.registerWindow(view, Access.REMOTE_WRITE));
        server.registerWindow(view, Access.REMOTE_READ).close(); // peers may read it: that is allowed
        assertTagFiveReceives(77, "tag 5 has no receive left over from the refused ones");
    }

    @Test
    void shouldRefuseASegmentWhoseArenaIsClosed() throws Exception {
        // Small, so that the allocator keeps the freed memory mapped: without the checks UCX reads
        // and writes it silently instead of crashing, and each assertion below fails.
        MemorySegment small;
        MemorySegment pages;
        try (Arena closed = Arena.ofConfined()) {
            small = closed.allocate(64, 8);
            pages = closed.allocate(8192, 4096);
        }
        assertClosedArena(assertThrows(IllegalStateException.class, () -> endpoint.send(5, small)));
        assertClosedArena(assertThrows(IllegalStateException.class, () -> endpoint.sendCopy(5, small)));
        assertClosedArena(assertThrows(IllegalStateException.class, () -> server.receive(5, small)));
        assertClosedArena(assertThrows(IllegalStateException.class, () -> server.registerWindow(pages, Access.ALL)));
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        RemoteWindow remote = endpoint.attach(window.key());
        assertClosedArena(assertInstanceOf(IllegalStateException.class, failure(remote.put(0, small))));
        assertClosedArena(assertInstanceOf(IllegalStateException.class, failure(remote.get(0, small))));
        assertTagFiveReceives(78, "nothing was sent or posted under tag 5 before");
    }

    /** A message under tag 5 arrives whole in the next receive ({@code why} if not), and a new peer is served. */
    private void assertTagFiveReceives(long value, String why) throws Exception {
        MemorySegment message = arena.allocate(8, 8);
        message.set(ValueLayout.JAVA_LONG, 0, value);
        MemorySegment into = arena.allocate(8, 8);
        CompletableFuture<Long> got = server.receive(5, into);
        endpoint.send(5, message).get(10, TimeUnit.SECONDS);
        assertEquals(8, got.get(10, TimeUnit.SECONDS), why);
        assertEquals(value, into.get(ValueLayout.JAVA_LONG, 0));
        GoodPeer.assertServed(server, b -> b);
    }

    private static void assertClosedArena(Throwable e) {
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void shouldCheckBoundsAndAccessBeforeSending() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.REMOTE_READ);
        RemoteWindow remote = endpoint.attach(window.key());
        MemorySegment buffer = arena.allocate(4096, 4096);
        assertInstanceOf(UnsupportedOperationException.class, failure(remote.put(0, buffer)));
        assertInstanceOf(IndexOutOfBoundsException.class, failure(remote.get(window.size() - 100, buffer)));
        assertInstanceOf(IndexOutOfBoundsException.class, failure(remote.get(-1, buffer)));
        assertInstanceOf(IndexOutOfBoundsException.class, failure(remote.get(Long.MAX_VALUE, buffer)));
        window.segment().set(ValueLayout.JAVA_LONG, 4096, 42);
        remote.get(4096, buffer).get(10, TimeUnit.SECONDS);
        assertEquals(42, buffer.get(ValueLayout.JAVA_LONG, 0));
        assertTrue(endpoint.attach(window.key()) == remote, "the key cache reuses the unpacked key");
    }

    @Test
    void shouldRefuseAClosedWindowAndAnInvalidatedGeneration() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        WindowKey first = window.key();
        RemoteWindow remote = endpoint.attach(first);
        MemorySegment buffer = arena.allocate(4096, 4096);
        remote.put(0, buffer).get(10, TimeUnit.SECONDS);
        window.invalidate();
        Throwable stale = failure(remote.put(0, buffer));
        assertInstanceOf(StaleWindowException.class, stale);
        System.out.println("invalidated: " + stale.getMessage());
        assertThrows(StaleWindowException.class, () -> endpoint.attach(first));
        RemoteWindow renewed = endpoint.attach(window.key());
        assertEquals(2, renewed.key().generation());
        renewed.put(0, buffer).get(10, TimeUnit.SECONDS);
        window.close();
        assertInstanceOf(StaleWindowException.class, failure(renewed.get(0, buffer)));
        window.close();
    }

    @Test
    void shouldRefuseAKeyOfAnotherNode() {
        Window own = client.allocateWindow(4096, Access.ALL);
        TransportException e = assertThrows(TransportException.class, () -> endpoint.attach(own.key()));
        assertTrue(e.getMessage().contains("belongs to node"), e.getMessage());
    }

    /**
     * An eager message larger than the buffer fails the receive with UCX's own status, as a
     * negative number: ucs_status_t is one byte, and read as an int it came back as 247 for -9,
     * so that no error status compared equal to its constant.
     */
    @Test
    void anEagerMessageLargerThanTheBufferShouldFailWithTruncation() throws Exception {
        CompletableFuture<Long> got = server.receive(6, arena.allocate(40, 8));
        endpoint.send(6, arena.allocate(48, 8)).get(10, TimeUnit.SECONDS);
        TransportException e = assertInstanceOf(TransportException.class, failure(got));
        assertEquals(org.memreg.ucx.Ucp.ERR_MESSAGE_TRUNCATED, e.status(), e.getMessage());
        assertTrue(e.isTruncation() && e.getMessage().contains("larger than the 40-byte buffer"), e.getMessage());
    }

    @Test
    void shouldFailAReceiveIntoATooSmallBuffer() throws Exception {
        MemorySegment big = arena.allocate(5L << 20, 4096);
        MemorySegment small = arena.allocate(64 << 10, 4096);
        CompletableFuture<Long> receive = server.receive(5, small);
        CompletableFuture<Long> send = endpoint.send(5, big);
        long start = System.nanoTime();
        Throwable e = failure(receive);
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        Throwable refused = failure(send);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.println("too-small buffer: the send failed after " + millis + " ms: " + refused.getMessage());
        assertInstanceOf(TransportException.class, refused);
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
        assertTrue(millis < 5_000, "the sender fails promptly, not at its timeout: " + millis + " ms");
        MemorySegment fits = arena.allocate(5L << 20, 4096);
        CompletableFuture<Long> again = server.receive(7, fits);
        assertEquals(5L << 20, endpoint.send(7, big).get(10, TimeUnit.SECONDS), "the endpoint goes on");
        assertEquals(5L << 20, again.get(10, TimeUnit.SECONDS));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (client.cache().stats().inUseBytes() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, client.cache().stats().inUseBytes(), "no chunk of the refused message is left in use");
        CompletableFuture<Long> pending = server.receive(6, small);
        assertTrue(pending.cancel(false), "a receive nobody matched can be withdrawn");
    }

    /**
     * A rendezvous nobody receives is held once the node's timeout has passed: later rendezvous
     * sends to that peer fail at once as busy, and its future, which waits while UCX holds the
     * caller's chunks, fails with the timeout once the node has closed (UCX's hold gone with it).
     */
    @Test
    void shouldHoldARendezvousSendNobodyReceivesPastTheTimeout() throws Exception {
        Duration timeout = Duration.ofMillis(500);
        CompletableFuture<Long> send;
        try (Node quiet = Node.builder().name("quiet").ucx("NET_DEVICES", "lo")
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node impatient = Node.builder().name("impatient").ucx("NET_DEVICES", "lo").timeout(timeout).build()) {
            Endpoint toQuiet = impatient.connect("127.0.0.1", quiet.port());
            MemorySegment big = arena.allocate(1 << 20, 4096);
            send = toQuiet.send(7, big);
            assertThrows(TimeoutException.class, () -> send.get(timeout.toMillis() * 4, TimeUnit.MILLISECONDS),
                    "UCX holds the chunks: the future waits past the node's timeout");
            Throwable busy = failure(toQuiet.send(7, big));
            assertEquals(Ucp.ERR_BUSY, assertInstanceOf(TransportException.class, busy).status(), busy.getMessage());
        }
        Throwable e = failure(send);
        assertEquals(Ucp.ERR_TIMED_OUT, assertInstanceOf(TransportException.class, e).status(), e.getMessage());
        assertTrue(e.getMessage().contains("timed out"), e.getMessage());
    }

    /**
     * A bad property fails build(), naming the property and its value, not builder(); a setter's
     * value wins over the property, which is then never parsed.
     */
    @ParameterizedTest
    @ValueSource(strings = {NodeBuilder.CHUNK_BYTES_PROP_NAME, NodeBuilder.TIMEOUT_PROP_NAME,
            NodeBuilder.ERROR_MODE_PROP_NAME, NodeBuilder.PIPELINE_DEPTH_PROP_NAME, NodeBuilder.PROGRESS_THREAD_PROP_NAME})
    void shouldFailBuildNotBuilderOnABadPropertyNamingIt(String property) {
        String before = System.setProperty(property, "lots");
        try {
            NodeBuilder builder = Node.builder();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
            assertTrue(e.getMessage().contains(property + "=lots"), e.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, before);
            }
        }
    }

    @Test
    void shouldRejectBadArgumentsAndUseAfterClose() {
        assertThrows(IllegalArgumentException.class, () -> endpoint.send(-1, arena.allocate(8)));
        assertThrows(IllegalArgumentException.class, () -> endpoint.send(1L << 56, arena.allocate(8)));
        assertThrows(IllegalArgumentException.class, () -> endpoint.send(1, MemorySegment.ofArray(new byte[8])));
        assertThrows(IllegalArgumentException.class, () -> Node.builder().chunkBytes(1000).build());
        IllegalArgumentException eager = assertThrows(IllegalArgumentException.class,
                () -> Node.builder().eagerBytes(NodeBuilder.MAX_EAGER_BYTES + 1).build());
        assertTrue(eager.getMessage().contains("eagerBytes must be in [32, min(chunkBytes, 65536)]"), eager.getMessage());
        long page = SysConf.pageSize();
        IllegalArgumentException partPage = assertThrows(IllegalArgumentException.class,
                () -> Node.builder().chunkBytes(3 * page + page / 2).build());
        assertTrue(partPage.getMessage().contains("multiple of the page size (" + page + ")"), partPage.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Node.builder().idleSpin(Duration.ofNanos(-1)).build());
        assertThrows(IllegalArgumentException.class, () -> Node.builder().idleSpin(Duration.ofSeconds(2)).build());
        IllegalArgumentException noPeers = assertThrows(IllegalArgumentException.class,
                () -> Node.builder().maxPeers(0).build());
        assertTrue(noPeers.getMessage().contains("maxPeers must be in [1, 1048576]: 0"), noPeers.getMessage());
        client.close();
        assertThrows(IllegalStateException.class, () -> client.allocateWindow(4096, Access.ALL));
        assertInstanceOf(TransportException.class, failure(client.receive(1, arena.allocate(8))));
    }
}
