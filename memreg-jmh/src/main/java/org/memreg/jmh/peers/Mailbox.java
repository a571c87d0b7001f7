package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import org.memreg.device.Access;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;

/**
 * 8-byte messages between two JVMs on one host through memory alone, as Aeron IPC's are: each side
 * writes its messages into a window of its own, which the other side maps ({@link
 * RemoteWindow#mapped}) and polls, busy-spinning. A message is a value and then its number,
 * written with release semantics and read with acquire; the two sides take turns (a side sends
 * only after it received the last message, or first), so one message each way is all a window holds.
 * The windows live until {@link #close}, which each side calls only after both agreed, by tagged
 * messages, that neither reads the other's any more.
 */
final class Mailbox implements AutoCloseable {
    private static final VarHandle NUMBER = JAVA_LONG.varHandle();
    private static final long VALUE = 8;
    private final Window own;
    private final MemorySegment mine, theirs;
    private long sent, received;
    /** True when this side sent last: it must receive before it sends again. */
    private boolean waiting;

    private Mailbox(Window own, MemorySegment theirs) {
        this.own = own;
        this.mine = own.segment();
        this.theirs = theirs;
    }

    /**
     * Allocates this side's window, sends its key under {@code keyTag} and maps the peer's: the
     * client sends first, the server receives first.
     */
    static Mailbox open(Node node, Notices notices, long keyTag, boolean client) throws Exception {
        Window own = node.allocateWindow(64, Access.REMOTE_READ);
        RemoteWindow peer;
        if (client) {
            notices.sendKey(keyTag, own.key());
            peer = notices.peer().attach(Notices.receiveKey(node, keyTag));
        } else {
            peer = notices.peer().attach(Notices.receiveKey(node, keyTag));
            notices.sendKey(keyTag, own.key());
        }
        MemorySegment theirs = peer.mapped().orElseThrow(() -> new IllegalStateException(
                "the peer's mailbox cannot be mapped here: both JVMs must run on one host, with UCX's shared memory"));
        return new Mailbox(own, theirs);
    }

    void send(long value) {
        if (waiting) {
            throw new IllegalStateException("the peer has not read the last message: receive its answer first");
        }
        mine.set(JAVA_LONG, VALUE, value);
        NUMBER.setRelease(mine, 0L, ++sent);
        waiting = true;
    }

    long receive() {
        long next = received + 1;
        while ((long) NUMBER.getAcquire(theirs, 0L) != next) {
            Thread.onSpinWait();
        }
        received = next;
        waiting = false;
        return theirs.get(JAVA_LONG, VALUE);
    }

    @Override
    public void close() {
        own.close();
    }
}
