package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.memreg.device.Access;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;

/**
 * memreg's one-sided path: the client puts each message of more than 8 bytes into a window the
 * server allocated ({@code 2 × DEPTH} slots of the message size), flushes every {@link PeerBench#DEPTH}
 * puts (or before it waits for an answer) and then tells the server how many slots to read with a
 * tagged notice; the server checksums each slot in place and returns credit (messages read so far),
 * without which the client does not reuse a slot. Messages of 8 bytes (pings, answers, goodbyes) go
 * as tagged messages both ways, as in {@link MemregLink} ({@link Notices}). Default configuration (progress thread on,
 * the caller blocks in {@code get()}).
 */
final class PutLink implements Link {
    private static final long KEY = 21, NOTICE = 22, CREDIT = 23, SMALL = 24;
    private static final int SLOTS = 2 * PeerBench.DEPTH;
    private final Node node;
    private final Notices notices;
    private final Bytes out;
    /** Client: the server's window; null on the server. */
    private final RemoteWindow remote;
    /** Server: the window the client puts into; null on the client. */
    private final Window window;
    private final long slotBytes;
    private final ArrayDeque<CompletableFuture<Void>> puts = new ArrayDeque<>();
    /** The next message's number: the client's next put, the server's next slot to read. */
    private long sequence;
    /** Client: puts since the last notice. Server: slots the last notice announced and not read yet. */
    private int batch;
    /** Client: messages the server has read (its last credit). */
    private long credited;

    private PutLink(Node node, Endpoint peer, int sendBytes, Window window, RemoteWindow remote, long slotBytes) {
        this.node = node;
        this.notices = new Notices(node, peer);
        this.out = Bytes.allocate(sendBytes);
        this.window = window;
        this.remote = remote;
        this.slotBytes = slotBytes;
    }

    /** Listens on loopback, announces "port=N", accepts one peer, sends it the window's key. */
    static PutLink server(int messageBytes, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-put-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        long slot = Math.max(8, messageBytes);
        Window window = node.allocateWindow(SLOTS * slot, Access.REMOTE_WRITE);
        window.segment().fill((byte) 0); // resident
        PutLink link = new PutLink(node, peer, 8, window, null, slot);
        link.notices.sendKey(KEY, window.key());
        return link;
    }

    static PutLink client(String info, int messageBytes) throws Exception {
        Endpoint peer = MemregLink.connect("peers-put-client", info);
        RemoteWindow remote = peer.attach(Notices.receiveKey(peer.node(), KEY));
        return new PutLink(peer.node(), peer, messageBytes, null, remote, Math.max(8, messageBytes));
    }

    @Override
    public Bytes out() {
        return out;
    }

    @Override
    public void send(int length) throws Exception {
        if (length <= 8) {
            notices.send(remote != null ? NOTICE : SMALL, 0, out.segment().get(JAVA_LONG, 0));
            return;
        }
        if (remote == null) {
            throw new IllegalStateException("the server sends only 8-byte answers");
        }
        while (sequence - credited >= SLOTS) { // the slot is the server's until it has read it
            credited = notices.credit(CREDIT);
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
        notices.send(NOTICE, batch, 0);
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
            notices.next(SMALL);
            return notices.second();
        }
        while (batch == 0) {
            long count = notices.next(NOTICE);
            long value = notices.second();
            if (count == 0) {
                return value; // an 8-byte message: its checksum is its value
            }
            batch = (int) count;
        }
        long sum = Checksum.of(window.segment(), (sequence % SLOTS) * slotBytes, slotBytes, 0, 0);
        sequence++;
        if (--batch == 0) {
            notices.send(CREDIT, sequence, 0);
        }
        return sum;
    }

    @Override
    public void close() {
        if (window != null) {
            window.close();
        }
        node.close();
        notices.close();
    }
}
