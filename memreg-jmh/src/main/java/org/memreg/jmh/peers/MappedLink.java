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
 * memreg with no copy at all ({@link OneSidedLink}): the client's send buffer is a window it
 * allocated, which the server maps into its own process ({@link RemoteWindow#mapped}) and
 * checksums where it lies for each message. For {@code bw} the client writes nothing per message
 * and keeps no more than {@link PeerBench#DEPTH} messages past the server's credit (the buffer
 * must not change while the server reads it). For {@code fresh} the window is a ring of slots
 * ({@link #ringSlots}) that the client writes in turn, each once the server's credit says the
 * message that last lay there is read, with a notice per half ring. For {@code lat} the 8-byte
 * messages go through memory too, a {@link Mailbox} each way, polled; the other tests send them as
 * tagged notices. Needs both JVMs on one host (a window UCX allocated in SysV shared memory).
 */
final class MappedLink extends OneSidedLink {
    private static final long MAILBOX = 25, BYE = 26;
    /** The client's window: its own on the client, mapped here on the server. */
    private final MemorySegment slots;
    private final long messageBytes;
    private final int slotCount;
    /** The 8-byte messages' way for {@code lat}; null otherwise. */
    private Mailbox mailbox;

    /** With {@code window}, the client's (null on the server). */
    private MappedLink(Node node, Endpoint peer, Bytes out, Window window, MemorySegment slots, long messageBytes,
            int slotCount) throws Exception {
        super(node, peer, out, window != null, slotCount == 1 ? PeerBench.DEPTH : slotCount,
                slotCount == 1 ? PeerBench.DEPTH : batch(slotCount), window);
        this.slots = slots;
        this.messageBytes = messageBytes;
        this.slotCount = slotCount;
    }

    /** Listens on loopback, announces "port=N", accepts one peer, maps the window whose key it sends. */
    static MappedLink server(int messageBytes, String test, Consumer<String> announce) throws Exception {
        Node node = MemregLink.listening("peers-mapped-server");
        Endpoint peer = MemregLink.acceptOne(node, announce);
        RemoteWindow remote = peer.attach(Notices.receiveKey(node, KEY));
        MemorySegment mapped = remote.mapped().orElseThrow(() -> new IllegalStateException(
                "the client's window cannot be mapped here: both JVMs must run on one host, with UCX's shared memory"));
        long bytes = Math.max(8, messageBytes);
        int slotCount = slotsIn(remote, slotCount(test, bytes), bytes);
        MappedLink link = new MappedLink(node, peer, Bytes.allocate(8), null, mapped, bytes, slotCount);
        return link.withMailbox(test, false);
    }

    static MappedLink client(String info, int messageBytes, String test) throws Exception {
        Endpoint peer = MemregLink.connect("peers-mapped-client", info);
        Node node = peer.node();
        long bytes = Math.max(8, messageBytes);
        int slotCount = slotCount(test, bytes);
        Window window = node.allocateWindow(slotCount * bytes, Access.REMOTE_READ);
        MemorySegment first = window.segment().asSlice(0, bytes);
        Bytes out = new Bytes(first, first.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        return new MappedLink(node, peer, out, window, window.segment(), bytes, slotCount).withMailbox(test, true);
    }

    /** The window's slots: a ring for {@code fresh}, else one buffer, never rewritten. */
    private static int slotCount(String test, long bytes) {
        return test.equals("fresh") ? ringSlots(bytes) : 1;
    }

    private MappedLink withMailbox(String test, boolean client) throws Exception {
        if (test.equals("lat")) {
            mailbox = Mailbox.open(node, notices, MAILBOX, client);
        }
        return this;
    }

    @Override
    public void send(int length) throws Exception {
        if (mailbox != null && length <= 8) {
            mailbox.send(out().segment().get(JAVA_LONG, 0));
            return;
        }
        super.send(length);
    }

    @Override
    public long receive() throws Exception {
        return mailbox != null ? mailbox.receive() : super.receive();
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

    /** With a mailbox, first agrees with the peer by tagged messages that neither reads the other's any more. */
    @Override
    public void close() {
        try {
            if (mailbox != null) {
                notices.send(BYE, 0, 0);
                notices.next(BYE);
            }
        } catch (Exception e) {
            throw new IllegalStateException("the peer did not say bye", e);
        } finally {
            if (mailbox != null) {
                mailbox.close();
            }
            super.close();
        }
    }
}
