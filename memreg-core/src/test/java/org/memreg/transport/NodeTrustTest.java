package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.assertServed;
import static org.memreg.transport.GoodPeer.loopback;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.testkit.LogCapture;
import org.memreg.testkit.Unprivileged;

/**
 * The ways a user or a peer could crash a node or slip a bad key past it (issue 11, cases 1 to 7
 * and 9): each must now end in the documented exception, with the node still serving a good peer.
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NodeTrustTest {
    private LoopbackPair pair;
    private Node server;
    private Node client;
    private Endpoint endpoint;
    private Arena arena;

    @BeforeEach
    void connect() {
        pair = LoopbackPair.connect(b -> b);
        server = pair.server();
        client = pair.client();
        endpoint = pair.endpoint();
        arena = pair.arena();
    }

    @AfterEach
    void close() throws Exception {
        if (pair != null) {
            try {
                assertServed(server);
            } finally {
                pair.close();
            }
        }
    }

    private static Throwable failure(java.util.concurrent.CompletableFuture<?> future) {
        return assertThrows(ExecutionException.class, () -> future.get(20, TimeUnit.SECONDS)).getCause();
    }

    private static WindowKey with(WindowKey k, long generation, long address, long length, Access access,
            byte[] rkey) {
        return new WindowKey(k.owner(), k.windowId(), generation, address, length, access, rkey);
    }

    /** Case 1: UCX crashed unpacking the remote key of a window that was gone. */
    @Test
    void shouldRefuseTheKeyOfAClosedWindowFromAPeerThatConnectsLater() {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        byte[] saved = window.key().toBytes();
        window.close();
        try (Node late = loopback("late").build()) {
            Endpoint toServer = late.connect("127.0.0.1", server.port());
            StaleWindowException e = assertThrows(StaleWindowException.class,
                    () -> toServer.attach(WindowKey.fromBytes(saved, 0, saved.length)));
            assertTrue(e.getMessage().contains("no such window"), e.getMessage());
        }
    }

    /** Case 2: a flipped byte or random bytes in the remote key crashed UCX in attach. */
    @Test
    void shouldRefuseAKeyWhoseRemoteKeyBytesAreDamaged() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        WindowKey key = window.key();
        byte[] flipped = key.rkey();
        flipped[flipped.length / 2] ^= 0x40;
        byte[] random = new byte[flipped.length];
        new java.util.SplittableRandom(11).nextBytes(random);
        for (byte[] rkey : new byte[][] {flipped, random, new byte[3]}) {
            WindowKey damaged = with(key, key.generation(), key.address(), key.length(), key.access(), rkey);
            TransportException e = assertThrows(TransportException.class, () -> endpoint.attach(damaged));
            assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        }
        RemoteWindow good = endpoint.attach(key);
        good.put(0, arena.allocate(64)).get(20, TimeUnit.SECONDS);
    }

    /** Case 3: a changed address crashed memcpy; an enlarged length let a put past the window land. */
    @Test
    void shouldRefuseAKeyWhoseAddressOrLengthWasChangedAndKeepPutsInsideTheWindow() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        WindowKey key = window.key();
        WindowKey moved = with(key, key.generation(), key.address() + (1L << 30), key.length(), key.access(), key.rkey());
        WindowKey enlarged = with(key, key.generation(), key.address(), 1L << 30, key.access(), key.rkey());
        WindowKey upgraded = with(key, key.generation(), key.address(), key.length(), Access.ALL, key.rkey());
        assertThrows(TransportException.class, () -> endpoint.attach(moved));
        assertThrows(TransportException.class, () -> endpoint.attach(enlarged));
        assertEquals(key, upgraded, "ALL was the access already");
        RemoteWindow remote = endpoint.attach(key);
        MemorySegment mib = arena.allocate(1 << 20, 4096);
        assertInstanceOf(IndexOutOfBoundsException.class, failure(remote.put(0, mib)), "1 MiB into 64 KiB");
        Window readOnly = server.allocateWindow(4096, Access.REMOTE_READ);
        WindowKey ro = readOnly.key();
        WindowKey writable = with(ro, ro.generation(), ro.address(), ro.length(), Access.ALL, ro.rkey());
        assertThrows(TransportException.class, () -> endpoint.attach(writable), "rights cannot be added to a key");
        assertInstanceOf(UnsupportedOperationException.class, failure(endpoint.attach(ro).put(0, arena.allocate(8))));
    }

    /** Case 4: a generation the owner never issued was accepted. */
    @Test
    void shouldRefuseAGenerationTheOwnerNeverIssued() throws Exception {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        window.invalidate();
        WindowKey key = window.key();
        assertEquals(2, key.generation());
        for (long generation : new long[] {3, 99, Long.MAX_VALUE, 0, -1}) {
            WindowKey bad = with(key, generation, key.address(), key.length(), key.access(), key.rkey());
            StaleWindowException e = assertThrows(StaleWindowException.class, () -> endpoint.attach(bad));
            assertTrue(e.getMessage().contains(generation > 2 ? "never issued" : "revoked"), e.getMessage());
        }
        WindowKey next = window.nextKey();
        assertEquals(3, next.generation());
        endpoint.attach(next).put(0, arena.allocate(8)).get(20, TimeUnit.SECONDS); // issued in advance: good
        endpoint.attach(key).put(0, arena.allocate(8)).get(20, TimeUnit.SECONDS); // and the current one still
    }

    /** Case 5: the window's segment had global scope: reading it after close crashed the JVM. */
    @Test
    void shouldThrowInsteadOfTouchingTheMemoryOfAClosedWindow() {
        Window window = server.allocateWindow(64 << 10, Access.ALL);
        MemorySegment segment = window.segment();
        segment.set(JAVA_LONG, 0, 42);
        window.close();
        assertThrows(IllegalStateException.class, () -> segment.get(JAVA_LONG, 0));
        assertThrows(IllegalStateException.class, window::segment);
        try (Node other = loopback("other").build()) {
            MemorySegment survivor = other.allocateWindow(4096, Access.ALL).segment();
            other.close();
            assertThrows(IllegalStateException.class, () -> survivor.set(JAVA_LONG, 0, 1), "node closed");
        }
    }

    /** Case 6: a window larger than memory filled /dev/shm and RAM and left its file behind. */
    @Test
    void shouldRefuseAWindowLargerThanMemoryOrTheBudgetBeforeAllocatingAnything() throws IOException {
        Set<String> before = shmFiles();
        long segments = sysvSegments();
        TransportException huge = assertThrows(TransportException.class,
                () -> server.allocateWindow(1L << 40, Access.ALL));
        assertTrue(huge.getMessage().contains("available"), huge.getMessage());
        assertThrows(IllegalArgumentException.class, () -> server.allocateWindow(Long.MAX_VALUE, Access.ALL));
        try (Node small = loopback("small").maxWindowBytes(1 << 20).build()) {
            TransportException over = assertThrows(TransportException.class,
                    () -> small.allocateWindow(2 << 20, Access.ALL));
            assertTrue(over.getMessage().contains(NodeBuilder.MAX_WINDOW_BYTES_PROP_NAME), over.getMessage());
            Window half = small.allocateWindow(512 << 10, Access.ALL);
            assertThrows(TransportException.class, () -> small.allocateWindow(768 << 10, Access.ALL));
            half.close();
            small.allocateWindow(768 << 10, Access.ALL).close(); // the budget came back with the window
        }
        assertEquals(before, shmFiles(), "no shared-memory file left behind");
        assertEquals(segments, sysvSegments(), "no SysV segment left behind");
    }

    private static Set<String> shmFiles() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("/dev/shm"))) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ucx_shm_posix"))
                    .collect(Collectors.toSet());
        }
    }

    /** SysV segments made by this process (column cpid of /proc/sysvipc/shm). */
    private static long sysvSegments() throws IOException {
        String pid = Long.toString(ProcessHandle.current().pid());
        return Files.readAllLines(Path.of("/proc/sysvipc/shm")).stream().skip(1)
                .filter(l -> pid.equals(l.trim().split("\\s+")[4])).count();
    }

    /**
     * Case 7: a client with another error mode made UCX's sockaddr listener abort the process. Now
     * the handshake refuses it in Java, and says why on both sides.
     */
    @Test
    void shouldRefuseAClientWithAnotherErrorModeWithAMessageOnBothSides() throws Exception {
        try (LogCapture log = LogCapture.of(Node.class);
             Node peerMode = loopback("peer-mode").errorMode(ErrorMode.PEER)
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node noneMode = loopback("none-mode").build()) {
            for (int attempt = 0; attempt < 20; attempt++) {
                TransportException refused = assertThrows(TransportException.class,
                        () -> noneMode.connect("127.0.0.1", peerMode.port()));
                assertTrue(refused.getMessage().contains("error mode PEER"), refused.getMessage());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (peerMode.handshakeStats().refused() < 20 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(20, peerMode.handshakeStats().refused());
            assertTrue(log.text().contains("the client NONE"), log.text());
            byte[] address = peerMode.workerAddress();
            TransportException byAddress = assertThrows(TransportException.class, () -> noneMode.connect(address));
            assertTrue(byAddress.getMessage().contains("error mode PEER"), byAddress.getMessage());
            assertServed(peerMode, b -> b.errorMode(ErrorMode.PEER));
        }
    }

    /** Case 9: a null host waited for the whole timeout; bad key bytes gave unclear errors. */
    @Test
    void shouldRejectBadArgumentsAtOnceWithMessagesThatSayWhat() {
        long start = System.nanoTime();
        assertThrows(NullPointerException.class, () -> client.connect((String) null, 1));
        assertThrows(IllegalArgumentException.class, () -> client.connect("127.0.0.1", 0));
        assertThrows(IllegalArgumentException.class, () -> client.connect("127.0.0.1", 70_000));
        assertThrows(NullPointerException.class, () -> client.connect((byte[]) null));
        assertThrows(IllegalArgumentException.class, () -> client.connect(new byte[40]));
        byte[] damaged = server.workerAddress();
        damaged[damaged.length / 2] ^= 1;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> client.connect(damaged)).getMessage()
                .contains("checksum"));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "no waiting for a timeout");

        byte[] key = server.allocateWindow(4096, Access.ALL).key().toBytes();
        String outside = assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(key, -1, 10))
                .getMessage();
        assertTrue(outside.contains("outside"), outside);
        assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(key, 10, key.length));
        assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(key, 0, 20));
        byte[] trailing = java.util.Arrays.copyOf(key, key.length + 1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(trailing, 0, trailing.length))
                .getMessage().contains("follow"));
        byte[] bits = key.clone();
        bits[43] |= 0x10;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(bits, 0, bits.length))
                .getMessage().contains("access bits"));
        for (long[] range : new long[][] {{-4096, 8192}, {0x1000, -1}, {0, 0}}) {
            byte[] wrap = key.clone();
            java.nio.ByteBuffer.wrap(wrap).putLong(24, range[0]).putLong(32, range[1]);
            assertThrows(IllegalArgumentException.class, () -> WindowKey.fromBytes(wrap, 0, wrap.length),
                    "range " + range[0] + "+" + range[1]);
        }
        assertEquals(WindowKey.fromBytes(key, 0, key.length), WindowKey.fromBytes(trailing, 0, key.length));
    }
}
