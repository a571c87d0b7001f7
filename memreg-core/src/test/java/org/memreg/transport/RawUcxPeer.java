package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxMemory;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.ucx.UcxWorker;

/**
 * A hostile peer that speaks UCX directly, with no memreg node of its own: it holds nodes' worker
 * addresses and sends them any tag and bytes it likes. Closing closes its endpoints, then UCX;
 * forcibly while a send it did not wait for is still in flight (a node need never take it).
 */
final class RawUcxPeer implements AutoCloseable {
    private final UcxContext context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
    private final UcxWorker worker = UcxWorker.create(context);
    private final Arena arena = Arena.ofShared();
    private final Map<Node, Long> endpoints = new HashMap<>();
    /** Reused by every short send (each is out before the call returns): an allocation per send stays until close. */
    private final MemorySegment scratch = arena.allocate(512, 8);
    /** Where {@link #receive} receives, and what UCX tells of it: reused for the same reason. */
    private final MemorySegment received = arena.allocate(4096, 8);
    private final MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
    /** Sends not waited for ({@link #sendAndGo}) that UCX has not finished yet. */
    private final List<Long> inFlight = new ArrayList<>();

    /** Sends {@code words} (little-endian longs) under {@code tag} to {@code node} and waits until they are out. */
    void send(Node node, long tag, long... words) {
        MemorySegment message = words.length <= 64 ? scratch.asSlice(0, 8L * words.length)
                : arena.allocate(8L * words.length, 8);
        for (int i = 0; i < words.length; i++) {
            message.set(JAVA_LONG, 8L * i, words[i]);
        }
        send(node, tag, message);
    }

    /** Sends {@code message} under {@code tag} to {@code node} and waits until it is out. */
    void send(Node node, long tag, MemorySegment message) {
        complete(worker.tagSend(endpoint(node), message.address(), message.byteSize(), tag, 0));
        Reference.reachabilityFence(message); // an automatic arena's memory must outlive the send
    }

    /**
     * Sends {@code message} under {@code tag} to {@code node} without waiting: a rendezvous
     * message stays in flight until the node takes it, which it need not ever do. The caller
     * keeps {@code message} alive until this peer is closed.
     */
    void sendAndGo(Node node, long tag, MemorySegment message) {
        long request = worker.tagSend(endpoint(node), message.address(), message.byteSize(), tag, 0);
        if (Ucp.isRequest(request)) {
            inFlight.add(request);
        } else if (Ucp.isError(request)) {
            throw new IllegalStateException("send failed: " + Ucp.statusString(Ucp.status(request)));
        }
        inFlight();
    }

    /** Progresses this peer, frees the sends not waited for that finished; how many are still in flight. */
    int inFlight() {
        worker.progress();
        inFlight.removeIf(request -> {
            if (Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
                return false;
            }
            Ucp.requestFree(request);
            return true;
        });
        return inFlight.size();
    }

    /**
     * Sends {@code node} a UCX hello as a memreg node without a secret sends it (this handshake
     * version, error mode NONE, no proof), in the name of {@code nodeId}, naming {@code address}
     * as the worker to answer; the node's reply goes there under {@code Tags.REPLY | nonce}.
     */
    void hello(Node node, long nodeId, long nonce, byte[] address) {
        MemorySegment hello = Arena.ofAuto().allocate(32 + address.length, 8);
        hello.set(JAVA_LONG, 0, nodeId);
        hello.set(JAVA_LONG, 8, nonce);
        hello.set(JAVA_SHORT, 16, (short) Handshake.VERSION);
        hello.set(JAVA_BYTE, 18, (byte) ErrorMode.NONE.ordinal());
        hello.set(JAVA_BYTE, 19, (byte) 0);
        hello.set(JAVA_INT, 20, address.length);
        hello.set(JAVA_LONG, 24, nodeId ^ nonce | 1); // the token the node is to show this peer
        hello.asSlice(32).copyFrom(MemorySegment.ofArray(address));
        send(node, Tags.HELLO, hello);
    }

    /**
     * {@link #hello} naming this peer's own address, then the node's reply (its id, then the token
     * it gave this peer), or null if none came within 20 s.
     */
    MemorySegment greet(Node node, long nodeId, long nonce) {
        hello(node, nodeId, nonce, address());
        return receive(Tags.REPLY | nonce, 20_000);
    }

    /**
     * The bytes of the next message to this peer under exactly {@code tag}, or null if none came
     * within {@code millis}.
     */
    MemorySegment receive(long tag, long millis) {
        long request = worker.tagReceive(received.address(), received.byteSize(), tag, -1L, 0, info.address());
        long deadline = System.nanoTime() + millis * 1_000_000;
        int status;
        while ((status = worker.testReceive(request, info.address())) == Ucp.INPROGRESS
                && System.nanoTime() < deadline) {
            worker.progress();
        }
        if (status == Ucp.INPROGRESS) {
            worker.cancel(request);
            complete(request);
            return null;
        }
        Ucp.requestFree(request);
        if (status != Ucp.OK) {
            throw new IllegalStateException("receive failed: " + Ucp.statusString(status));
        }
        long length = info.get(JAVA_LONG, 8);
        return Arena.ofAuto().allocate(length, 8).copyFrom(received.asSlice(0, length));
    }

    /**
     * Takes every message that has come to this peer and nobody asked for (a node's answers to
     * what it sent): left, UCX warns about each one when the worker closes. How many.
     */
    int discardArrived() {
        for (int discarded = 0;; discarded++) {
            worker.progress();
            long request = worker.tagReceive(received.address(), received.byteSize(), 0, 0, 0, info.address());
            if (worker.testReceive(request, info.address()) == Ucp.INPROGRESS) { // none arrived: withdrawn
                worker.cancel(request);
                complete(request);
                return discarded;
            }
            Ucp.requestFree(request);
        }
    }

    /** Memory of {@code bytes} that UCX allocates in this peer's context, for a window key of its own making. */
    UcxMemory allocate(long bytes) {
        return context.allocate(bytes, Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ
                | Ucp.PROT_REMOTE_WRITE);
    }

    /** One round of this peer's worker: UCX's own connection set-up, no memreg message. */
    void progress() {
        worker.progress();
    }

    /** This peer's own UCX worker address (a real one, to damage). */
    byte[] address() {
        return worker.address();
    }

    private long endpoint(Node node) {
        return endpoints.computeIfAbsent(node, n -> worker.connect(NodeAddress.parse(n.workerAddress()).ucx(),
                Ucp.ERR_HANDLING_MODE_NONE));
    }

    /** Progresses the worker until {@code request} is done, then frees it. */
    private void complete(long request) {
        UcxTestSupport.complete(request, worker);
    }

    @Override
    public void close() {
        boolean force = inFlight() > 0; // a flush would wait for them
        endpoints.values().forEach(ep -> complete(worker.closeEndpoint(ep, force)));
        // The forced close cancels sends still queued; one whose rendezvous awaits the node's
        // answer is not tracked without error handling, and is handed back to UCX as it is.
        long deadline = System.nanoTime() + 1_000_000_000L;
        while (inFlight() > 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        inFlight.forEach(Ucp::requestFree);
        inFlight.clear();
        worker.close();
        context.close();
        arena.close();
    }
}
