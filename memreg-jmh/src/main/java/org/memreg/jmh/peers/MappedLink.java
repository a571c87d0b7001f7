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
 * checksums where it lies for each message; the client writes nothing per message, and keeps no
 * more than {@link PeerBench#DEPTH} messages past the server's credit (the buffer must not change
 * while the server reads it). Needs both JVMs on one host (a window UCX allocated in SysV shared
 * memory).
 */
final class MappedLink extends OneSidedLink {
    /** Client: the window its messages lie in; null on the server. */
    private final Window window;
    /** Server: the client's window, mapped here; null on the client. */
    private final MemorySegment mapped;
    private final long messageBytes;

    private MappedLink(Node node, Endpoint peer, Bytes out, Window window, MemorySegment mapped, long messageBytes) {
        super(node, peer, out, window != null, PeerBench.DEPTH);
        this.window = window;
        this.mapped = mapped;
        this.messageBytes = messageBytes;
    }

    /** Listens on loopback, announces "port=N", accepts one peer, maps the window whose key it sends. */
    static MappedLink server(int messageBytes, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-mapped-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        RemoteWindow remote = peer.attach(Notices.receiveKey(node, KEY));
        MemorySegment mapped = remote.mapped().orElseThrow(() -> new IllegalStateException(
                "the client's window cannot be mapped here: both JVMs must run on one host, with UCX's shared memory"));
        return new MappedLink(node, peer, Bytes.allocate(8), null, mapped, Math.max(8, messageBytes));
    }

    static MappedLink client(String info, int messageBytes) throws Exception {
        Endpoint peer = MemregLink.connect("peers-mapped-client", info);
        Node node = peer.node();
        long bytes = Math.max(8, messageBytes);
        Window window = node.allocateWindow(bytes, Access.REMOTE_READ);
        MemorySegment buffer = window.segment().asSlice(0, bytes);
        Bytes out = new Bytes(buffer, buffer.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        MappedLink link = new MappedLink(node, peer, out, window, null, bytes);
        link.notices.sendKey(KEY, window.key());
        return link;
    }

    /** The message already lies in the window the server reads. */
    @Override
    void write(long n, int length) {
    }

    @Override
    long read(long n) {
        return Checksum.of(mapped, 0, messageBytes, 0, 0);
    }

    @Override
    void closeMemory() {
        if (window != null) {
            window.close();
        }
    }
}
