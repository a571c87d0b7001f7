package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.memreg.device.Access;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;
import org.memreg.transport.WindowKey;

/**
 * memreg's one-sided path: the client puts each message of more than 8 bytes into a window the
 * server allocated ({@code 2 × DEPTH} slots of the message size), flushes every {@link PeerBench#DEPTH}
 * puts (or before it waits for an answer) and then tells the server how many slots to read with a
 * tagged notice; the server checksums each slot in place and returns credit (messages read so far),
 * without which the client does not reuse a slot. Messages of 8 bytes (pings, answers, goodbyes) go
 * as tagged messages both ways, as in {@link MemregLink}; tagged messages go by
 * {@link Endpoint#sendCopy}, and the receive for the next one is posted when the link next waits
 * for one, not between a message and the answer to it. Default configuration (progress thread on,
 * the caller blocks in {@code get()}).
 */
final class PutLink implements Link {
    private static final long KEY = 21, NOTICE = 22, CREDIT = 23, SMALL = 24;
    private static final int SLOTS = 2 * PeerBench.DEPTH;
    private final Node node;
    private final Endpoint peer;
    private final Arena arena = Arena.ofShared();
    private final Bytes out;
    /** Client: the server's window; null on the server. */
    private final RemoteWindow remote;
    /** Server: the window the client puts into; null on the client. */
    private final Window window;
    private final long slotBytes;
    /** A tagged message's 16 bytes ({@code sendCopy}: free again when the send returns). */
    private final MemorySegment small;
    private final ArrayDeque<CompletableFuture<Void>> puts = new ArrayDeque<>();
    /** The next message's number: the client's next put, the server's next slot to read. */
    private long sequence;
    /** Client: puts since the last notice. Server: slots the last notice announced and not read yet. */
    private int batch;
    /** Client: messages the server has read (its last credit). */
    private long credited;
    private final MemorySegment in;
    /** The posted receive of the next tagged message (a notice on the server, an answer on the client), or null. */
    private CompletableFuture<Long> incoming;
    /** Client: where credits land. */
    private final MemorySegment creditIn;

    private PutLink(Node node, Endpoint peer, int sendBytes, Window window, RemoteWindow remote, long slotBytes) {
        this.node = node;
        this.peer = peer;
        this.out = Bytes.allocate(sendBytes);
        this.window = window;
        this.remote = remote;
        this.slotBytes = slotBytes;
        this.small = arena.allocate(16, 8);
        this.in = arena.allocate(16, 8);
        this.creditIn = arena.allocate(16, 8);
    }

    /** Listens on loopback, announces "port=N", accepts one peer, sends it the window's key. */
    static PutLink server(int messageBytes, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-put-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        long slot = Math.max(8, messageBytes);
        Window window = node.allocateWindow(SLOTS * slot, Access.REMOTE_WRITE);
        window.segment().fill((byte) 0); // resident
        PutLink link = new PutLink(node, peer, 8, window, null, slot);
        byte[] key = window.key().toBytes();
        MemorySegment keyBytes = link.arena.allocate(key.length);
        keyBytes.copyFrom(MemorySegment.ofArray(key));
        peer.send(KEY, keyBytes).get();
        return link;
    }

    static PutLink client(String info, int messageBytes) throws Exception {
        Endpoint peer = MemregLink.connect("peers-put-client", info);
        Node node = peer.node();
        MemorySegment key = Arena.ofAuto().allocate(4096);
        long length = node.receive(KEY, key).get();
        RemoteWindow remote = peer.attach(WindowKey.fromBytes(key.asSlice(0, length).toArray(JAVA_BYTE), 0,
                (int) length));
        return new PutLink(node, peer, messageBytes, null, remote, Math.max(8, messageBytes));
    }

    @Override
    public Bytes out() {
        return out;
    }

    @Override
    public void send(int length) throws Exception {
        if (length <= 8) {
            tagged(remote != null ? NOTICE : SMALL, 0, out.segment().get(JAVA_LONG, 0));
            return;
        }
        if (remote == null) {
            throw new IllegalStateException("the server sends only 8-byte answers");
        }
        while (sequence - credited >= SLOTS) { // the slot is the server's until it has read it
            credited = awaitCredit();
        }
        puts.addLast(remote.put((sequence % SLOTS) * slotBytes, out.segment().asSlice(0, length)));
        sequence++;
        if (++batch == PeerBench.DEPTH) {
            notice();
        }
    }

    /** Client: makes the batch's puts visible (a flush), then tells the server how many slots to read. */
    private void notice() throws Exception {
        if (batch == 0) {
            return;
        }
        remote.flush().get();
        for (CompletableFuture<Void> put; (put = puts.poll()) != null; ) {
            put.get(); // the flush completed them: a failed put throws here
        }
        tagged(NOTICE, batch, 0);
        batch = 0;
    }

    @Override
    public void drain() throws Exception {
        if (remote != null) {
            notice();
        }
    }

    @Override
    public long receive() throws Exception {
        if (remote != null) { // the client waits for an 8-byte message; its puts must be visible first
            notice();
            return awaitSmall();
        }
        while (batch == 0) {
            long count = nextTagged(NOTICE, 0);
            long value = in.get(JAVA_LONG, 8);
            if (count == 0) {
                return value; // an 8-byte message: its checksum is its value
            }
            batch = (int) count;
        }
        long sum = Checksum.of(window.segment(), (sequence % SLOTS) * slotBytes, slotBytes, 0, 0);
        sequence++;
        if (--batch == 0) {
            tagged(CREDIT, sequence, 0);
        }
        return sum;
    }

    /** Client: the next 8-byte message from the server, keeping credit notices apart. */
    private long awaitSmall() throws Exception {
        return nextTagged(SMALL, 8);
    }

    /**
     * Waits for the next tagged message under {@code tag} and returns its long at {@code offset};
     * the buffer is read, and the receive for the one after is posted when this is next called.
     */
    private long nextTagged(long tag, long offset) throws Exception {
        if (incoming == null) {
            incoming = node.receive(tag, in);
        }
        incoming.get();
        incoming = null;
        return in.get(JAVA_LONG, offset);
    }

    /** Client: the next credit (messages the server has read); credits come in order. */
    private long awaitCredit() throws Exception {
        node.receive(CREDIT, creditIn).get();
        return creditIn.get(JAVA_LONG, 0);
    }

    /** Sends {@code first} and {@code second} as one 16-byte tagged message. */
    private void tagged(long tag, long first, long second) {
        small.set(JAVA_LONG, 0, first);
        small.set(JAVA_LONG, 8, second);
        peer.sendCopy(tag, small);
    }

    @Override
    public void close() {
        if (window != null) {
            window.close();
        }
        node.close();
        arena.close();
    }
}
