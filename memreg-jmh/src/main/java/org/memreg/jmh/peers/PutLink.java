package org.memreg.jmh.peers;

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

/**
 * memreg's one-sided path ({@link OneSidedLink}): the client puts each message into a window the
 * server allocated (a ring of slots of the message size, {@link #ringSlots}) and flushes before
 * each notice; the server checksums each slot in place, and its credit lets the client reuse a
 * slot. Fresh messages are written into as many buffers in turn as a notice announces messages: the
 * flush before each notice has completed the put that last read a buffer.
 */
final class PutLink extends OneSidedLink {
    /** Client: the server's window; null on the server. */
    private final RemoteWindow remote;
    /** Server: the window the client puts into; null on the client. */
    private final Window window;
    private final long slotBytes;
    private final int slots;
    private final ArrayDeque<CompletableFuture<Void>> puts = new ArrayDeque<>();
    private final Arena arena = Arena.ofShared();
    /** Client: the buffers of fresh messages; made at the first {@link #slot}. */
    private MemorySegment[] sources;

    /** With the window's {@code slots} of {@code slotBytes} each. */
    private PutLink(Node node, Endpoint peer, int sendBytes, Window window, RemoteWindow remote, long slotBytes,
            int slots) throws Exception {
        super(node, peer, Bytes.allocate(sendBytes), remote != null, slots, batch(slots), window);
        this.slots = slots;
        this.window = window;
        this.remote = remote;
        this.slotBytes = slotBytes;
    }

    /** Listens on loopback, announces "port=N", accepts one peer, sends it the window's key. */
    static PutLink server(int messageBytes, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-put-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        long slot = Math.max(8, messageBytes);
        int slots = ringSlots(slot);
        Window window = node.allocateWindow(slots * slot, Access.REMOTE_WRITE);
        window.segment().fill((byte) 0); // resident
        return new PutLink(node, peer, 8, window, null, slot, slots);
    }

    static PutLink client(String info, int messageBytes) throws Exception {
        Endpoint peer = MemregLink.connect("peers-put-client", info);
        RemoteWindow remote = peer.attach(Notices.receiveKey(peer.node(), KEY));
        long slot = Math.max(8, messageBytes);
        return new PutLink(peer.node(), peer, messageBytes, null, remote, slot, slotsIn(remote, ringSlots(slot), slot));
    }

    @Override
    void write(long n, MemorySegment message) {
        puts.addLast(remote.put((n % slots) * slotBytes, message));
    }

    @Override
    MemorySegment slot(long n, int length) {
        if (sources == null) {
            sources = Link.ring(arena, batch(slots), length);
        }
        return sources[(int) (n % sources.length)];
    }

    /** Makes the batch's puts visible (a flush). */
    @Override
    void beforeNotice() throws Exception {
        remote.flush().get();
        for (CompletableFuture<Void> put; (put = puts.poll()) != null; ) {
            put.get(); // the flush completed them: a failed put throws here
        }
    }

    @Override
    long read(long n) {
        return Checksum.of(window.segment(), (n % slots) * slotBytes, slotBytes, 0, 0);
    }

    @Override
    public void close() {
        super.close();
        arena.close(); // after the node: no put reads the sources any more
    }
}
