package org.memreg.jmh.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;

/**
 * memreg's tagged send/receive in its default configuration (progress thread on, the caller
 * blocking in {@code future.get()}: the waiter drives the worker). The receiver keeps
 * {@link PeerBench#DEPTH} receives posted, each into its own buffer, and checksums a message in
 * the buffer UCX placed it in. Used as the README advises for latency: messages of 8 bytes go by
 * {@link Endpoint#sendCopy} (no future), and a buffer read is posted again at the next
 * {@link #receive}, before it waits, rather than between a message and the answer to it.
 */
final class MemregLink implements Link {
    private static final long DATA = 11;
    private final Node node;
    private final Endpoint peer;
    private final Arena arena = Arena.ofShared();
    private final Bytes out;
    private final MemorySegment[] in = new MemorySegment[PeerBench.DEPTH];
    @SuppressWarnings("unchecked")
    private final CompletableFuture<Long>[] posted = new CompletableFuture[PeerBench.DEPTH];
    private final ArrayDeque<CompletableFuture<Long>> sends = new ArrayDeque<>();
    /** Send buffers of fresh messages, one per send in flight; made at the first {@link #claim}. */
    private MemorySegment[] ring;
    private int nextInRing;
    /** What {@link #send} sends from: {@link #out}, or the buffer claimed last. */
    private MemorySegment current;
    private int head;
    /** The slot whose message was read last, to be posted again at the next receive; -1 if none. */
    private int read = -1;

    private MemregLink(Node node, Endpoint peer, int sendBytes, int receiveBytes) {
        this.node = node;
        this.peer = peer;
        this.out = Bytes.allocate(sendBytes);
        this.current = out.segment();
        for (int i = 0; i < in.length; i++) {
            in[i] = arena.allocate(Math.max(8, receiveBytes), 4096);
            in[i].fill((byte) 0); // resident
            posted[i] = node.receive(DATA, in[i]);
        }
    }

    /** Listens on loopback, announces "port=N", accepts one peer. */
    static MemregLink server(int sendBytes, int receiveBytes, Consumer<String> announce) throws InterruptedException {
        Node node = listening("peers-server");
        return new MemregLink(node, acceptOne(node, announce), sendBytes, receiveBytes);
    }

    /** A node named {@code name} listening on a free loopback port. */
    static Node listening(String name) {
        return Node.builder().name(name).ucx("NET_DEVICES", "lo").listen(new InetSocketAddress("127.0.0.1", 0)).build();
    }

    /**
     * Announces {@code node}'s port as "port=N" and waits for its first peer, progressing the node
     * itself when it has no progress thread ({@code -Dmemreg.transport.progressThread=false}: the
     * links' waits drive the node, but nothing would drive the handshake).
     */
    static Endpoint acceptOne(Node node, Consumer<String> announce) throws InterruptedException {
        announce.accept("port=" + node.port());
        boolean callerProgress = !Boolean.parseBoolean(System.getProperty("memreg.transport.progressThread", "true"));
        Endpoint peer;
        while ((peer = node.accepted()) == null) {
            if (callerProgress) {
                node.progress();
            } else {
                Thread.sleep(1);
            }
        }
        return peer;
    }

    static MemregLink client(String info, int sendBytes, int receiveBytes) {
        Endpoint peer = connect("peers-client", info);
        return new MemregLink(peer.node(), peer, sendBytes, receiveBytes);
    }

    /** A node named {@code name}, connected to the server that announced {@code info} ("port=N"). */
    static Endpoint connect(String name, String info) {
        Node node = Node.builder().name(name).ucx("NET_DEVICES", "lo").build();
        return node.connect("127.0.0.1", Integer.parseInt(info.substring(info.indexOf('=') + 1)));
    }

    @Override
    public Bytes out() {
        return out;
    }

    /** The next of {@link PeerBench#DEPTH} buffers, once the send that last used it is done (the oldest in flight). */
    @Override
    public MemorySegment claim(int length) throws Exception {
        if (ring == null) {
            ring = Link.ring(arena, PeerBench.DEPTH, length);
        }
        if (sends.size() == PeerBench.DEPTH) {
            sends.removeFirst().get();
        }
        current = ring[nextInRing];
        nextInRing = (nextInRing + 1) % ring.length;
        return current;
    }

    @Override
    public void send(int length) throws Exception {
        if (length <= 8) {
            peer.sendCopy(DATA, out.segment().asSlice(0, length));
            return;
        }
        if (sends.size() == PeerBench.DEPTH) {
            sends.removeFirst().get();
        }
        sends.addLast(peer.send(DATA, current.asSlice(0, length)));
    }

    @Override
    public void drain() throws Exception {
        while (!sends.isEmpty()) {
            sends.removeFirst().get();
        }
    }

    @Override
    public long receive() throws Exception {
        if (read >= 0) {
            posted[read] = node.receive(DATA, in[read]);
        }
        long length = posted[head].get();
        long sum = Checksum.of(in[head], 0, length, 0, 0);
        read = head;
        head = (head + 1) % in.length;
        return sum;
    }

    @Override
    public void close() {
        node.close();
        arena.close();
    }
}
