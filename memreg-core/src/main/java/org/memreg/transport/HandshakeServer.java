package org.memreg.transport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.memreg.transport.Handshake.Reason;
import org.memreg.util.Warnings;

/**
 * A node's listener: the node side of the {@link Handshake}, for every client, on one thread
 * with one selector. What a client can cost is bounded: at most {@code maxPending} handshakes at
 * once (more are refused as busy at once), each done within {@code timeoutNanos} or dropped, each
 * frame at most {@value #MAX_FRAME} bytes in a buffer of that size, and at most
 * {@code ratePerSecond} new connections per second from one source address (a token bucket;
 * 4,096 sources remembered). A client that proved itself is refused as busy too while the node
 * holds its limit of connections ({@link ConnectionLimit}). Refusals are logged ({@link Warnings}).
 */
final class HandshakeServer implements AutoCloseable {
    /** Longest frame a client may send (HELLO, PROOF and REFUSE are all shorter). */
    static final int MAX_FRAME = 1024;
    private static final int SOURCES = 4096;
    private static final System.Logger LOG = System.getLogger(Node.class.getName());

    /** The limits a listener applies; see the class comment. */
    record Limits(int maxPending, long timeoutNanos, int ratePerSecond) {
    }

    private final ServerSocketChannel server;
    private final Selector selector;
    private final long nodeId;
    private final ErrorMode mode;
    private final Secret secret;
    private final byte[] address;
    private final Limits limits;
    /** The node's connections: a client is refused as busy while they are at their limit. */
    private final ConnectionLimit connections;
    private final List<Pending> pending = new ArrayList<>();
    private final Map<InetAddress, double[]> buckets = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<InetAddress, double[]> eldest) {
            return size() > SOURCES;
        }
    };
    private final Thread thread;
    private volatile boolean closing;
    private volatile long completed;
    private volatile long refused;
    private volatile long shed;
    private volatile long timedOut;
    private volatile long abandoned;
    private final Warnings warnings;

    /** One client's handshake in progress. */
    private static final class Pending {
        final SocketChannel channel;
        final InetAddress source;
        final long deadline;
        final ByteBuffer in = ByteBuffer.allocate(4 + MAX_FRAME);
        ByteBuffer out;
        SelectionKey key;
        boolean done;
        byte[] clientNonce;
        byte[] serverNonce;
        long clientId;

        Pending(SocketChannel channel, InetAddress source, long deadline) {
            this.channel = channel;
            this.source = source;
            this.deadline = deadline;
        }
    }

    /** Binds {@code listen} and starts the listener thread. */
    HandshakeServer(InetSocketAddress listen, String name, long nodeId, ErrorMode mode, Secret secret, byte[] address,
            Limits limits, ConnectionLimit connections) {
        this.nodeId = nodeId;
        this.mode = mode;
        this.secret = secret;
        this.address = address.clone();
        this.limits = limits;
        this.connections = connections;
        try {
            this.selector = Selector.open();
            this.server = ServerSocketChannel.open();
            try {
                server.bind(listen, limits.maxPending());
                server.configureBlocking(false);
                server.register(selector, SelectionKey.OP_ACCEPT);
            } catch (IOException e) {
                server.close();
                selector.close();
                throw e;
            }
        } catch (IOException e) {
            throw new TransportException("cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        this.warnings = new Warnings(Node.class, "memreg listener on port " + port() + " refused connections");
        this.thread = Thread.ofPlatform().daemon().name("memreg-listener-" + name).start(this::run);
    }

    /** The port bound. */
    int port() {
        return ((InetSocketAddress) server.socket().getLocalSocketAddress()).getPort();
    }

    HandshakeStats stats() {
        return new HandshakeStats(completed, refused, shed, timedOut, abandoned);
    }

    private void run() {
        while (!closing) {
            try {
                long now = System.nanoTime();
                long next = now + TimeUnit.SECONDS.toNanos(1);
                for (Pending p : pending) {
                    next = Math.min(next, p.deadline);
                }
                selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - now + 999_999)));
                for (SelectionKey key : selector.selectedKeys()) {
                    if (key.isValid() && key.isAcceptable()) {
                        acceptAll();
                    } else if (key.isValid() && key.attachment() instanceof Pending p) {
                        step(p, key);
                    }
                }
                selector.selectedKeys().clear();
                expire(System.nanoTime());
            } catch (IOException | RuntimeException e) {
                if (!closing) {
                    LOG.log(System.Logger.Level.WARNING, "memreg listener: " + e);
                }
            }
        }
    }

    private void acceptAll() throws IOException {
        SocketChannel channel;
        while ((channel = server.accept()) != null) {
            InetAddress source = ((InetSocketAddress) channel.getRemoteAddress()).getAddress();
            String busy = !allowedNow(source) ? "more than " + limits.ratePerSecond() + " connections a second from "
                    + source.getHostAddress() + "; try again later"
                    : pending.size() >= limits.maxPending() ? limits.maxPending()
                            + " handshakes are already in progress; try again later" : null;
            if (busy != null) {
                shed++;
                note(source, busy);
                try (SocketChannel refusedChannel = channel) {
                    refusedChannel.configureBlocking(false);
                    refusedChannel.write(Handshake.refuse(Reason.BUSY, busy)); // one try: it costs nothing more
                } catch (IOException ignored) {
                    // gone already
                }
                continue;
            }
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            Pending p = new Pending(channel, source, System.nanoTime() + limits.timeoutNanos());
            p.key = channel.register(selector, SelectionKey.OP_READ, p);
            pending.add(p);
        }
    }

    /** Token bucket per source: {@code ratePerSecond} a second, as many at once. */
    private boolean allowedNow(InetAddress source) {
        long now = System.nanoTime();
        double rate = limits.ratePerSecond();
        double[] bucket = buckets.computeIfAbsent(source, s -> new double[] {rate, now});
        bucket[0] = Math.min(rate, bucket[0] + (now - (long) bucket[1]) * rate / 1e9);
        bucket[1] = now;
        if (bucket[0] < 1) {
            return false;
        }
        bucket[0] -= 1;
        return true;
    }

    private void step(Pending p, SelectionKey key) {
        try {
            if (key.isWritable()) {
                flush(p);
            } else if (key.isReadable()) {
                if (p.channel.read(p.in) < 0) {
                    abandoned++;
                    drop(p);
                    return;
                }
                readFrames(p);
            }
        } catch (IOException | RuntimeException e) {
            if (!p.done) { // else it was counted when its answer was decided
                abandoned++;
            }
            drop(p);
        }
    }

    private void readFrames(Pending p) throws IOException {
        while (!p.done && p.in.position() >= 4) {
            int length = p.in.getInt(0);
            if (length <= 0 || length > MAX_FRAME) {
                refuse(p, Reason.MALFORMED, "a frame of " + length + " bytes is not part of a memreg handshake");
                return;
            }
            if (p.in.position() < 4 + length) {
                return;
            }
            ByteBuffer body = p.in.duplicate().position(4).limit(4 + length).slice();
            if (p.clientNonce == null) {
                onHello(p, body);
            } else {
                onProof(p, body);
            }
            p.in.limit(p.in.position()).position(4 + length);
            p.in.compact();
        }
    }

    private void onHello(Pending p, ByteBuffer hello) throws IOException {
        if (hello.remaining() != Handshake.HELLO_BYTES || hello.get() != Handshake.HELLO
                || hello.getLong() != Handshake.MAGIC) {
            refuse(p, Reason.MALFORMED, "not a memreg handshake");
            return;
        }
        int version = Short.toUnsignedInt(hello.getShort());
        int theirMode = hello.get();
        int flags = hello.get();
        if (version != Handshake.VERSION) {
            refuse(p, Reason.VERSION, "this node speaks handshake version " + Handshake.VERSION + ", the client "
                    + version);
            return;
        }
        if (theirMode != mode.ordinal()) {
            refuse(p, Reason.ERROR_MODE, "this node uses error mode " + mode + ", the client "
                    + Handshake.modeName(theirMode) + ": both sides must use the same memreg.transport.errorMode");
            return;
        }
        if (secret != null && (flags & Handshake.FLAG_SECRET) == 0) {
            refuse(p, Reason.AUTHENTICATION, "this node requires the shared transport secret"
                    + " (memreg.transport.secret or memreg.transport.secretFile)");
            return;
        }
        p.clientId = hello.getLong();
        p.clientNonce = new byte[Handshake.NONCE_BYTES];
        hello.get(p.clientNonce);
        p.serverNonce = TransportContext.randomBytes(Handshake.NONCE_BYTES);
        byte[] proof = secret == null ? new byte[Secret.PROOF_BYTES]
                : secret.proof(Handshake.label(false), transcript(p));
        send(p, Handshake.frame(Handshake.CHALLENGE_BYTES).put(Handshake.CHALLENGE).putShort((short) Handshake.VERSION)
                .put((byte) mode.ordinal()).put((byte) (secret != null ? Handshake.FLAG_SECRET : 0)).putLong(nodeId)
                .put(p.serverNonce).put(proof).flip());
    }

    private void onProof(Pending p, ByteBuffer proof) throws IOException {
        byte type = proof.get(0);
        if (type == Handshake.REFUSE) {
            refused++;
            note(p.source, "the client refused: " + Handshake.refusal(proof));
            drop(p);
            return;
        }
        if (type != Handshake.PROOF || proof.remaining() != Handshake.PROOF_FRAME_BYTES) {
            refuse(p, Reason.MALFORMED, "not a memreg handshake proof");
            return;
        }
        byte[] given = new byte[Secret.PROOF_BYTES];
        proof.get(1, given);
        if (secret != null && !secret.verify(given, Handshake.label(true), transcript(p))) {
            refuse(p, Reason.AUTHENTICATION, "the client did not prove the shared transport secret");
            return;
        }
        if (connections.reached()) { // a proven client only: a stranger learns nothing of the node
            refuse(p, Reason.BUSY, connections.reason() + "; try again later");
            return;
        }
        completed++;
        p.done = true;
        send(p, Handshake.frame(1 + address.length).put(Handshake.WELCOME).put(address).flip());
    }

    private byte[][] transcript(Pending p) {
        return Handshake.transcript(p.clientNonce, p.serverNonce, p.clientId, nodeId, mode);
    }

    private void refuse(Pending p, Reason reason, String message) throws IOException {
        refused++;
        note(p.source, message);
        p.done = true;
        send(p, Handshake.refuse(reason, message));
    }

    /** Queues {@code frame} and writes what the socket takes now; the rest when it is writable. */
    private void send(Pending p, ByteBuffer frame) throws IOException {
        p.out = frame;
        flush(p);
    }

    private void flush(Pending p) throws IOException {
        p.channel.write(p.out);
        if (p.out.hasRemaining()) {
            p.key.interestOps(SelectionKey.OP_WRITE);
        } else if (p.done) {
            drop(p); // WELCOME or REFUSE sent: the handshake is over
        } else {
            p.key.interestOps(SelectionKey.OP_READ);
        }
    }

    private void expire(long now) {
        for (int i = pending.size() - 1; i >= 0; i--) {
            Pending p = pending.get(i);
            if (now - p.deadline >= 0) {
                timedOut++;
                note(p.source, "handshake not finished within " + TimeUnit.NANOSECONDS.toMillis(limits.timeoutNanos())
                        + " ms");
                drop(p);
            }
        }
    }

    private void drop(Pending p) {
        pending.remove(p);
        p.key.cancel();
        try {
            p.channel.close();
        } catch (IOException ignored) {
            // closing a socket we are done with
        }
    }

    private void note(InetAddress source, String why) {
        warnings.warn(source.getHostAddress() + ": " + why);
    }

    /** Stops listening: closes the listener and every handshake in progress. Twice is harmless. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        selector.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Pending p : new ArrayList<>(pending)) {
            drop(p);
        }
        try {
            server.close();
            selector.close();
        } catch (IOException ignored) {
            // the node is closing
        }
    }
}
