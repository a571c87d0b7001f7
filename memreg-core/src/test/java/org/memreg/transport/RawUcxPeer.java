package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxWorker;

/**
 * A hostile peer that speaks UCX directly, with no memreg node of its own: it holds nodes' worker
 * addresses and sends them any tag and bytes it likes. Closing closes its endpoints, then UCX.
 */
final class RawUcxPeer implements AutoCloseable {
    private final UcxContext context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
    private final UcxWorker worker = UcxWorker.create(context);
    private final Arena arena = Arena.ofShared();
    private final Map<Node, Long> endpoints = new HashMap<>();

    /** Sends {@code words} (little-endian longs) under {@code tag} to {@code node} and waits until they are out. */
    void send(Node node, long tag, long... words) {
        MemorySegment message = arena.allocate(8L * words.length, 8);
        for (int i = 0; i < words.length; i++) {
            message.set(JAVA_LONG, 8L * i, words[i]);
        }
        send(node, tag, message);
    }

    /** Sends {@code message} under {@code tag} to {@code node} and waits until it is out. */
    void send(Node node, long tag, MemorySegment message) {
        complete(worker.tagSend(endpoint(node), message.address(), message.byteSize(), tag, 0));
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
        while (Ucp.isRequest(request) && Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
            worker.progress();
        }
        if (Ucp.isRequest(request)) {
            Ucp.requestFree(request);
        }
    }

    @Override
    public void close() {
        endpoints.values().forEach(ep -> complete(worker.closeEndpoint(ep, false)));
        worker.close();
        context.close();
        arena.close();
    }
}
