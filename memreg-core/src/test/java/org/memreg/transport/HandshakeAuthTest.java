package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.assertServed;
import static org.memreg.transport.GoodPeer.loopback;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * The shared secret: without it, or with a wrong one, a side is refused with a message on both
 * sides and never receives the node's worker address; with it, everything works.
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HandshakeAuthTest {
    private static final String SECRET = "correct horse battery staple";
    private Node server;

    @BeforeEach
    void listen() {
        UcxTestSupport.assumeUcx();
        server = loopback("guarded").secret(SECRET).listen(new InetSocketAddress("127.0.0.1", 0)).build();
    }

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
    }

    private void awaitRefused(long count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.handshakeStats().refused() < count && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertEquals(count, server.handshakeStats().refused(), "refused at the node: " + server.handshakeStats());
    }

    @Test
    void nodesWithTheSecretShouldShowUcxTcpListenersTheTokenItGives() throws Exception {
        try (Node tcp = loopback("tcp-only").ucx("TLS", "tcp").secret(SECRET)
                .listen(new InetSocketAddress("127.0.0.1", 0)).build()) {
            long admitted = UcxTestSupport.tcpAdmitted();
            assertServed(tcp, b -> b.ucx("TLS", "tcp").secret(SECRET));
            assertTrue(UcxTestSupport.tcpAdmitted() > admitted, "a UCX TCP connection admitted with the token"
                    + " (UCX answers over the one connection)");
        }
    }

    @Test
    void shouldServeAPeerWithTheSecretAndRefuseOnesWithoutOrWithAWrongOne() throws Exception {
        assertServed(server, b -> b.secret(SECRET));
        assertEquals(1, server.handshakeStats().completed());
        try (Node none = loopback("no-secret").build(); Node wrong = loopback("wrong").secret("a different secret!!").build()) {
            TransportException e = assertThrows(TransportException.class, () -> none.connect("127.0.0.1", server.port()));
            assertTrue(e.getMessage().contains("requires the shared transport secret"), e.getMessage());
            awaitRefused(1);
            e = assertThrows(TransportException.class, () -> wrong.connect("127.0.0.1", server.port()));
            assertTrue(e.getMessage().contains("did not prove the shared secret"), e.getMessage());
            awaitRefused(2); // the client refused the node, and told it why
        }
        try (Node open = loopback("open").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node guarded = loopback("guarded-client").secret(SECRET).build()) {
            TransportException e = assertThrows(TransportException.class, () -> guarded.connect("127.0.0.1", open.port()));
            assertTrue(e.getMessage().contains("the node has none"), e.getMessage());
        }
        assertServed(server, b -> b.secret(SECRET));
    }

    @Test
    void shouldRefuseAHelloOverUcxWithoutAProofEvenFromAPeerThatHoldsTheAddress() throws Exception {
        byte[] address = server.workerAddress();
        try (Node none = loopback("no-secret").connectTimeout(Duration.ofMillis(500)).build()) {
            TransportException e = assertThrows(TransportException.class, () -> none.connect(address));
            assertTrue(e.getMessage().contains("no memreg node answered"), e.getMessage());
            assertEquals(null, server.accepted(), "no endpoint was made for it");
        }
        try (Node with = loopback("with-secret").secret(SECRET).build()) {
            assertTrue(with.connect(address).isUsable());
        }
    }

    /** Speaks the handshake by hand and returns every byte the node sent until it closed. */
    private byte[] rawHandshake(boolean claimSecret, byte[] proof) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            ByteBuffer hello = Handshake.frame(Handshake.HELLO_BYTES).put(Handshake.HELLO).putLong(Handshake.MAGIC)
                    .putShort((short) Handshake.VERSION).put((byte) ErrorMode.NONE.ordinal())
                    .put((byte) (claimSecret ? Handshake.FLAG_SECRET : 0)).putLong(42).put(new byte[32]);
            out.write(hello.array());
            if (proof != null) {
                out.write(Handshake.frame(Handshake.PROOF_FRAME_BYTES).put(Handshake.PROOF).put(proof).array());
            }
            out.flush();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[4096];
            for (int n; (n = in.read(buffer)) > 0;) {
                got.write(buffer, 0, n);
            }
            return got.toByteArray();
        }
    }

    private static List<Byte> frameTypes(byte[] bytes) {
        List<Byte> types = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.remaining() >= 5) {
            int length = b.getInt();
            types.add(b.get(b.position()));
            b.position(b.position() + length);
        }
        return types;
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Test
    void theRefusedSideShouldNeverReceiveTheWorkerAddress() throws Exception {
        byte[] address = server.workerAddress();
        byte[] ucx = NodeAddress.parse(address).ucx();
        byte[] withoutSecret = rawHandshake(false, null);
        assertEquals(List.of(Handshake.REFUSE), frameTypes(withoutSecret), "refused at the hello");
        byte[] wrongProof = rawHandshake(true, new byte[Secret.PROOF_BYTES]);
        assertEquals(List.of(Handshake.CHALLENGE, Handshake.REFUSE), frameTypes(wrongProof), "refused at the proof");
        for (byte[] got : List.of(withoutSecret, wrongProof)) {
            assertFalse(contains(got, ucx), "the UCX worker address leaked");
            assertFalse(contains(got, java.util.Arrays.copyOf(ucx, 16)), "part of the worker address leaked");
        }
        System.out.printf("refused clients received %d and %d bytes: a refusal and a challenge, no address%n",
                withoutSecret.length, wrongProof.length);
        awaitRefused(2);
    }

    @Test
    void shouldTakeTheSecretFromAFileOnlyItsOwnerCanRead(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("secret");
        Files.writeString(file, SECRET + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        IllegalArgumentException open = assertThrows(IllegalArgumentException.class, () -> loopback("x").secretFile(file));
        assertTrue(open.getMessage().contains("chmod 600"), open.getMessage());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertServed(server, b -> b.secretFile(file));
        assertThrows(IllegalArgumentException.class, () -> loopback("x").secretFile(dir.resolve("missing")));
        assertThrows(IllegalArgumentException.class, () -> loopback("x").secret("short"));
        Secret secret = Secret.fromFile(file);
        assertArrayEquals(Secret.of(SECRET).proof("label", new byte[] {1}), secret.proof("label", new byte[] {1}),
                "the trailing newline is not part of the secret");
    }
}
