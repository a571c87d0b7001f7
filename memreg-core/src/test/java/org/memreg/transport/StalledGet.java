package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import org.memreg.device.Access;

/**
 * A get over TCP from a window whose owner stopped progressing: UCX keeps the get's memory and
 * writes the answer into it whenever the owner comes back ({@link #resume}).
 */
final class StalledGet implements AutoCloseable {
    private final PausableNode owner;
    private final Node origin;
    /** The owner's window, {@code bytes} long, a pattern of longs in it. */
    final Window window;
    /** The get, posted while the owner does not progress. */
    final CompletableFuture<Void> get;

    /** Starts a get of the whole window into {@code into} (as long as the window) while its owner stands still. */
    StalledGet(MemorySegment into) throws Exception {
        owner = new PausableNode(loopback("owner").ucx("TLS", "tcp").listen(new InetSocketAddress("127.0.0.1", 0)));
        origin = loopback("origin").ucx("TLS", "tcp").build();
        window = owner.node.allocateWindow(into.byteSize(), Access.ALL);
        for (long i = 0; i < into.byteSize(); i += 8) {
            window.segment().set(JAVA_LONG, i, i * 31 + 7);
        }
        RemoteWindow attached = origin.connect("127.0.0.1", owner.node.port()).attach(window.key());
        owner.pause();
        Thread.sleep(50);
        get = attached.get(0, into);
        Thread.sleep(100); // posted, and UCX waits for the owner's answer
    }

    /** The owner progresses again: its answer reaches the get. */
    void resume() {
        owner.resume();
    }

    @Override
    public void close() throws Exception {
        try (Node o = origin) {
            owner.close();
        }
    }
}
