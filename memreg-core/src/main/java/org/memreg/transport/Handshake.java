package org.memreg.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * memreg's connection handshake, over a plain TCP connection to a node's listener, before any
 * UCX call: it agrees on the protocol version and error mode, optionally proves a shared secret
 * both ways, and only then hands the client the node's {@link NodeAddress} (its UCX worker
 * address). Frames are a 4-byte big-endian length and a body whose first byte is its type:
 *
 * <pre>
 * client                                             node (listener)
 *   HELLO     magic "memreg\0\1", version, mode,  -->
 *             flags (bit 0: has a secret), id, nonce
 *                                                 <--  CHALLENGE version, mode, flags, id, nonce,
 *                                                                proof of the secret (or zeros)
 *   PROOF     proof of the secret (or zeros)      -->
 *                                                 <--  WELCOME   the node's address
 *   either side, instead of its next frame:            REFUSE    reason, UTF-8 message
 * </pre>
 *
 * A proof is HMAC-SHA-256 ({@link Secret}) over a label naming the side, both nonces, both node
 * ids, the version and the mode. A node with a secret refuses a HELLO without one and sends its
 * address only after the client's proof checked out; a client with a secret refuses a node that
 * cannot prove it. Each side reads at most a few frames of bounded size within its timeout.
 */
final class Handshake {
    /**
     * 2: the UCX hello and reply carry each side's control-message token for the other (per peer).
     * 3: the rendezvous header carries the sender's chunk size, which the receiver follows.
     * 4: a receiver tells the sender of a rendezvous message that it has it ({@link Tags#DELIVERED}),
     * and the send completes only then.
     * 5: with a secret, UCX's TCP connections open with the token derived from it ({@link
     * Secret#tcpToken}); a node of version 4 would be cut off there without a word.
     * 6: eager messages are at most {@link NodeBuilder#MAX_EAGER_BYTES}: a receiver takes the first
     * part of every message into memory of its own that large at most ({@link Staging}).
     */
    static final int VERSION = 6;
    static final long MAGIC = 0x6d656d7265670001L; // "memreg" 0 1
    static final int NONCE_BYTES = 32;
    static final byte HELLO = 1;
    static final byte CHALLENGE = 2;
    static final byte PROOF = 3;
    static final byte WELCOME = 4;
    static final byte REFUSE = 5;
    static final int HELLO_BYTES = 1 + 8 + 2 + 1 + 1 + 8 + NONCE_BYTES;
    static final int CHALLENGE_BYTES = 1 + 2 + 1 + 1 + 8 + NONCE_BYTES + Secret.PROOF_BYTES;
    static final int PROOF_FRAME_BYTES = 1 + Secret.PROOF_BYTES;
    /** Longest REFUSE message sent (UTF-8 bytes; longer ones are cut). */
    static final int MAX_REASON_BYTES = 512;
    /** Longest frame a client reads (a WELCOME carries a UCX worker address). */
    static final int CLIENT_MAX_FRAME = 64 << 10;
    static final int FLAG_SECRET = 1;

    private Handshake() {
    }

    /** Why a side refused, sent as the first byte of a REFUSE. */
    enum Reason {
        MALFORMED, VERSION, ERROR_MODE, AUTHENTICATION, BUSY, CLOSING
    }

    static String label(boolean client) {
        return client ? "memreg-v1 client proof" : "memreg-v1 server proof";
    }

    /** The fields a proof covers: both nonces, both ids, the version and the mode. */
    static byte[][] transcript(byte[] clientNonce, byte[] serverNonce, long clientId, long serverId, ErrorMode mode) {
        byte[] ids = ByteBuffer.allocate(20).putLong(clientId).putLong(serverId).putShort((short) VERSION)
                .putShort((short) mode.ordinal()).array();
        return new byte[][] {clientNonce, serverNonce, ids};
    }

    static ByteBuffer frame(int bodyBytes) {
        return ByteBuffer.allocate(4 + bodyBytes).putInt(bodyBytes);
    }

    static ByteBuffer refuse(Reason reason, String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        int length = Math.min(text.length, MAX_REASON_BYTES);
        return frame(2 + length).put(REFUSE).put((byte) reason.ordinal()).put(text, 0, length).flip();
    }

    /** The message of a REFUSE body (type byte included), for exceptions and logs. */
    static String refusal(ByteBuffer body) {
        int reason = body.remaining() > 1 ? body.get(1) : -1;
        String name = reason >= 0 && reason < Reason.values().length ? Reason.values()[reason].name() : "?";
        byte[] text = new byte[Math.max(0, Math.min(body.remaining() - 2, MAX_REASON_BYTES))];
        if (text.length > 0) { // a body of one or two bytes has no text: reading it threw IndexOutOfBounds
            body.get(2, text);
        }
        return name.toLowerCase(java.util.Locale.ROOT) + ": " + new String(text, StandardCharsets.UTF_8);
    }

    /**
     * The client side: connects to {@code address}, runs the handshake as node {@code nodeId}
     * with error mode {@code mode} and {@code secret} (or null), and returns the node's address.
     * Every step is bounded by {@code timeoutNanos} in all.
     *
     * @throws TransportException when the node cannot be reached, is not a memreg node, refuses,
     *     disagrees on version or mode, or fails authentication; the message says which
     */
    static NodeAddress connect(InetSocketAddress address, String description, long nodeId, ErrorMode mode,
            Secret secret, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        try (SocketChannel channel = SocketChannel.open(); Selector selector = Selector.open()) {
            channel.configureBlocking(false);
            Client client = new Client(channel, selector, description, deadline);
            client.connect(address);
            byte[] nonce = TransportContext.randomBytes(NONCE_BYTES);
            client.write(frame(HELLO_BYTES).put(HELLO).putLong(MAGIC).putShort((short) VERSION)
                    .put((byte) mode.ordinal()).put((byte) (secret != null ? FLAG_SECRET : 0)).putLong(nodeId)
                    .put(nonce).flip());
            ByteBuffer challenge = client.read(CHALLENGE, CHALLENGE_BYTES);
            challenge.get();
            int version = Short.toUnsignedInt(challenge.getShort());
            int theirMode = challenge.get();
            int flags = challenge.get();
            long serverId = challenge.getLong();
            byte[] serverNonce = new byte[NONCE_BYTES];
            challenge.get(serverNonce);
            byte[] serverProof = new byte[Secret.PROOF_BYTES];
            challenge.get(serverProof);
            if (version != VERSION) {
                throw client.refuse(Reason.VERSION, "the node speaks handshake version " + version + ", this client "
                        + VERSION);
            }
            if (theirMode != mode.ordinal()) {
                throw client.refuse(Reason.ERROR_MODE, "the node uses error mode " + modeName(theirMode)
                        + ", this client " + mode + ": both sides must use the same memreg.transport.errorMode");
            }
            byte[][] transcript = transcript(nonce, serverNonce, nodeId, serverId, mode);
            byte[] proof = new byte[Secret.PROOF_BYTES];
            if (secret != null) {
                if ((flags & FLAG_SECRET) == 0 || !secret.verify(serverProof, label(false), transcript)) {
                    throw client.refuse(Reason.AUTHENTICATION, (flags & FLAG_SECRET) == 0
                            ? "this client has a transport secret and the node has none"
                            : "the node did not prove the shared secret");
                }
                proof = secret.proof(label(true), transcript);
            }
            client.write(frame(PROOF_FRAME_BYTES).put(PROOF).put(proof).flip());
            ByteBuffer welcome = client.read(WELCOME, CLIENT_MAX_FRAME);
            welcome.get();
            byte[] bytes = new byte[welcome.remaining()];
            welcome.get(bytes);
            NodeAddress node;
            try {
                node = NodeAddress.parse(bytes);
            } catch (IllegalArgumentException e) {
                throw new TransportException(description + " sent a bad address: " + e.getMessage(), 0);
            }
            if (node.nodeId() != serverId || node.errorMode() != mode) {
                throw new TransportException(description + " sent an address that does not match its hello", 0);
            }
            return node;
        } catch (IOException e) {
            throw new TransportException("cannot connect to " + description + ": " + e, e);
        }
    }

    /** The node was busy (its limits): worth trying again shortly. */
    static final class Busy extends TransportException {
        private static final long serialVersionUID = 1L;

        Busy(String message) {
            super(message, 0);
        }
    }

    /**
     * {@link #connect} again while the node says it is busy, backing off from 5 ms to 100 ms,
     * until the connection succeeds, fails otherwise, or {@code timeoutNanos} have passed. A node
     * that said it was busy and then did not answer again in time is reported busy, with its reason.
     */
    static NodeAddress connectPatiently(InetSocketAddress address, String description, long nodeId, ErrorMode mode,
            Secret secret, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        Busy lastBusy = null;
        for (long backoff = 5;; backoff = Math.min(100, backoff * 2)) {
            try {
                return connect(address, description, nodeId, mode, secret, Math.max(1, deadline - System.nanoTime()));
            } catch (Busy busy) {
                lastBusy = busy;
                if (deadline - System.nanoTime() < TimeUnit.MILLISECONDS.toNanos(backoff)) {
                    throw busy;
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw busy;
                }
            } catch (TransportException e) {
                if (lastBusy != null && e.status() == org.memreg.ucx.Ucp.ERR_TIMED_OUT) {
                    lastBusy.addSuppressed(e);
                    throw lastBusy;
                }
                throw e;
            }
        }
    }

    static String modeName(int ordinal) {
        return ordinal >= 0 && ordinal < ErrorMode.values().length ? ErrorMode.values()[ordinal].name()
                : "unknown (" + ordinal + ")";
    }

    /** Blocking steps on a non-blocking channel, each until the one deadline. */
    private record Client(SocketChannel channel, Selector selector, String description, long deadline) {
        void connect(InetSocketAddress address) throws IOException {
            if (!channel.connect(address)) {
                channel.register(selector, SelectionKey.OP_CONNECT);
                while (!channel.finishConnect()) {
                    await();
                }
            }
        }

        void write(ByteBuffer data) throws IOException {
            channel.register(selector, SelectionKey.OP_WRITE);
            while (data.hasRemaining()) {
                if (channel.write(data) == 0) {
                    await();
                }
            }
        }

        /** Reads one frame, which must be of {@code type} (at most {@code max} bytes) or a REFUSE. */
        ByteBuffer read(byte type, int max) throws IOException {
            ByteBuffer length = readFully(ByteBuffer.allocate(4));
            int bytes = length.getInt(0);
            if (bytes <= 0 || bytes > Math.max(max, 2 + MAX_REASON_BYTES)) {
                throw new TransportException(description + " is not a memreg node (a reply frame of " + bytes
                        + " bytes)", 0);
            }
            ByteBuffer body = readFully(ByteBuffer.allocate(bytes)).flip();
            if (body.get(0) == REFUSE) {
                String why = description + " refused the connection: " + refusal(body);
                throw body.remaining() > 1 && body.get(1) == Reason.BUSY.ordinal() ? new Busy(why)
                        : new TransportException(why, 0);
            }
            if (body.get(0) != type || bytes > max || (type == CHALLENGE && bytes != CHALLENGE_BYTES)) {
                throw new TransportException(description + " is not a memreg node (unexpected reply of type "
                        + body.get(0) + ", " + bytes + " bytes)", 0);
            }
            return body;
        }

        private ByteBuffer readFully(ByteBuffer buffer) throws IOException {
            channel.register(selector, SelectionKey.OP_READ);
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer);
                if (n < 0) {
                    throw new TransportException(description + " closed the connection during the handshake", 0);
                }
                if (n == 0) {
                    await();
                }
            }
            return buffer;
        }

        /** Tells the node why (best effort) and returns the exception the client throws. */
        TransportException refuse(Reason reason, String message) {
            try {
                ByteBuffer frame = Handshake.refuse(reason, message);
                channel.write(frame);
            } catch (IOException ignored) {
                // the node will time the handshake out instead
            }
            return new TransportException("refused " + description + ": " + message, 0);
        }

        private void await() throws IOException {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TransportException("no memreg node answered at " + description + " within the connect timeout",
                        org.memreg.ucx.Ucp.ERR_TIMED_OUT);
            }
            selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            selector.selectedKeys().clear();
        }
    }
}
