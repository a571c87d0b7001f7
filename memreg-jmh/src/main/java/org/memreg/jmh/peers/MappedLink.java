package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.memreg.device.Access;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;

/**
 * memreg with no copy at all: the client's send buffer is a window it allocated, which the server
 * maps into its own process ({@link RemoteWindow#mapped}) and reads where it lies. Per message of
 * more than 8 bytes the client only counts; every {@link PeerBench#DEPTH} messages (or before it
 * waits for an answer) it tells the server how many to read with a tagged notice, and does not
 * send more than {@link PeerBench#DEPTH} past the server's last credit: the buffer must not change
 * while the server reads it. The server checksums the mapped buffer in place for each message.
 * 8-byte messages go as tagged messages both ways, as in {@link PutLink} ({@link Notices}). Needs both JVMs on one
 * host (a window UCX allocated in shared memory); default configuration.
 */
final class MappedLink implements Link {
    private static final long KEY = 31, NOTICE = 32, CREDIT = 33, SMALL = 34;
    private final Node node;
    private final Notices notices;
    private final Bytes out;
    /** Client: the window its messages lie in; null on the server. */
    private final Window window;
    /** Server: the client's window, mapped here; null on the client. */
    private final MemorySegment mapped;
    private final long messageBytes;
    /** Client: messages sent. Server: messages read. */
    private long sequence;
    /** Client: messages since the last notice. Server: messages the last notice announced and not read yet. */
    private int batch;
    /** Client: messages the server has read (its last credit). */
    private long credited;

    private MappedLink(Node node, Endpoint peer, Bytes out, Window window, MemorySegment mapped, long messageBytes) {
        this.node = node;
        this.notices = new Notices(node, peer);
        this.out = out;
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

    @Override
    public Bytes out() {
        return out;
    }

    @Override
    public void send(int length) throws Exception {
        if (length <= 8) {
            notices.send(window != null ? NOTICE : SMALL, 0, out.segment().get(JAVA_LONG, 0));
            return;
        }
        if (window == null) {
            throw new IllegalStateException("the server sends only 8-byte answers");
        }
        while (sequence - credited >= PeerBench.DEPTH) { // the server reads the buffer until it credits it
            credited = notices.credit(CREDIT);
        }
        sequence++;
        if (++batch == PeerBench.DEPTH) {
            notice();
        }
    }

    /** Client: tells the server how many messages to read (the buffer is already where it reads). */
    private void notice() {
        if (batch > 0) {
            notices.send(NOTICE, batch, 0);
            batch = 0;
        }
    }

    @Override
    public void drain() {
        if (window != null) {
            notice();
        }
    }

    @Override
    public long receive() throws Exception {
        if (window != null) { // the client waits for an 8-byte answer; its messages must be announced first
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
        long sum = Checksum.of(mapped, 0, messageBytes, 0, 0);
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
