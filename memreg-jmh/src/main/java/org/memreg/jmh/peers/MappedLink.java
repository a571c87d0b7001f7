package org.memreg.jmh.peers;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.memreg.device.Access;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;

/**
 * memreg with no copy at all ({@link OneSidedLink}): the client's send buffer is a window it
 * allocated, which the server maps into its own process ({@link RemoteWindow#mapped}) and
 * checksums where it lies for each message. For {@code bw} the client writes nothing per message
 * and keeps no more than {@link PeerBench#DEPTH} messages past the server's credit (the buffer
 * must not change while the server reads it). For {@code fresh} the window holds {@code 2 × DEPTH}
 * slots that the client writes in turn, each once the server's credit says the message that last
 * lay there is read. Needs both JVMs on one host (a window UCX allocated in SysV shared memory).
 */
final class MappedLink extends OneSidedLink {
    private static final int FRESH_SLOTS = 2 * PeerBench.DEPTH;
    /** Client: the window its messages lie in; null on the server. */
    private final Window window;
    /** The client's window: its own on the client, mapped here on the server. */
    private final MemorySegment slots;
    private final long messageBytes;
    private final int slotCount;

    private MappedLink(Node node, Endpoint peer, Bytes out, Window window, MemorySegment slots, long messageBytes,
            int slotCount) {
        super(node, peer, out, window != null, slotCount == 1 ? PeerBench.DEPTH : slotCount);
        this.window = window;
        this.slots = slots;
        this.messageBytes = messageBytes;
        this.slotCount = slotCount;
    }

    /** Listens on loopback, announces "port=N", accepts one peer, maps the window whose key it sends. */
    static MappedLink server(int messageBytes, boolean fresh, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-mapped-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        RemoteWindow remote = peer.attach(Notices.receiveKey(node, KEY));
        MemorySegment mapped = remote.mapped().orElseThrow(() -> new IllegalStateException(
                "the client's window cannot be mapped here: both JVMs must run on one host, with UCX's shared memory"));
        return new MappedLink(node, peer, Bytes.allocate(8), null, mapped, Math.max(8, messageBytes),
                fresh ? FRESH_SLOTS : 1);
    }

    static MappedLink client(String info, int messageBytes, boolean fresh) throws Exception {
        Endpoint peer = MemregLink.connect("peers-mapped-client", info);
        Node node = peer.node();
        long bytes = Math.max(8, messageBytes);
        int slotCount = fresh ? FRESH_SLOTS : 1;
        Window window = node.allocateWindow(slotCount * bytes, Access.REMOTE_READ);
        MemorySegment first = window.segment().asSlice(0, bytes);
        Bytes out = new Bytes(first, first.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        MappedLink link = new MappedLink(node, peer, out, window, window.segment(), bytes, slotCount);
        link.notices.sendKey(KEY, window.key());
        return link;
    }

    /** The message already lies in the window the server reads. */
    @Override
    void write(long n, MemorySegment message) {
    }

    @Override
    MemorySegment slot(long n, int length) {
        return slots.asSlice(offset(n), length);
    }

    @Override
    long read(long n) {
        return Checksum.of(slots, offset(n), messageBytes, 0, 0);
    }

    private long offset(long n) {
        return (n % slotCount) * messageBytes;
    }

    @Override
    void closeMemory() {
        if (window != null) {
            window.close();
        }
    }
}
