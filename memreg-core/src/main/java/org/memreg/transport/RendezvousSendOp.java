package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import org.memreg.device.Access;
import org.memreg.ucx.Ucp;

/**
 * A rendezvous send: a 24-byte header (length, message id, sender) under the user's tag with the
 * rendezvous bit, then the data in chunks of at most {@code chunkBytes}, each registered through
 * the node's cache and handed to UCX with its memory handle (zero copy), at most
 * {@code pipelineDepth} chunks registered and in flight at once.
 *
 * <p>A receiver whose buffer is too small refuses the message: the future fails at once, and the
 * chunks not yet sent go as empty messages (nothing registered) so that the receiver, which
 * drains as many chunks as the message has, finishes too.
 */
final class RendezvousSendOp extends Op {
    static final long HEADER_BYTES = 24;

    private final Endpoint endpoint;
    private final CompletableFuture<Long> future;
    private final long address;
    private final long total;
    private final long chunkTag;
    private final long id;
    /** The header's buffer until UCX has sent it, then back in the pool (null). */
    private MemorySegment header;
    private final ArrayDeque<Chunk> inFlight = new ArrayDeque<>();
    private long headerRequest;
    private boolean headerDone;
    private long nextOffset;
    private long doneBytes;
    private boolean failed;
    private boolean refused;

    RendezvousSendOp(Node node, Endpoint endpoint, long tag, MemorySegment data, CompletableFuture<Long> future) {
        super(node.timeoutNanos);
        this.endpoint = endpoint;
        this.future = future;
        this.address = data.address();
        this.total = data.byteSize();
        this.id = node.messaging.nextMessageId();
        this.chunkTag = Tags.CHUNK | id;
        this.header = node.messaging.takeHeader();
        header.set(JAVA_LONG, 0, total);
        header.set(JAVA_LONG, 8, id);
        header.set(JAVA_LONG, 16, node.id());
        this.headerRequest = node.worker.tagSend(endpoint.ep, header.address(), HEADER_BYTES, tag | Tags.RTS_BIT, 0);
        node.messaging.rendezvousSends.put(id, this);
    }

    /** The receiver refused the message: its buffer holds only {@code bufferBytes}. */
    void refused(long bufferBytes) {
        if (!failed) {
            fail(new TransportException(String.format("%d-byte message refused by %s: the receive buffer holds"
                    + " only %d bytes", total, endpoint, bufferBytes), Ucp.ERR_MESSAGE_TRUNCATED));
        }
        refused = true;
    }

    @Override
    boolean poll(Node node) {
        if (!headerDone) {
            int status = check(headerRequest);
            if (status == Ucp.INPROGRESS) {
                return timeout(node);
            }
            headerDone = true;
            headerRequest = 0;
            node.messaging.giveHeader(header);
            header = null;
            if (status != Ucp.OK) {
                fail(endpoint.failure("rendezvous header", status));
            }
        }
        while (!inFlight.isEmpty()) {
            Chunk chunk = inFlight.peekFirst();
            int status = check(chunk.request);
            if (status == Ucp.INPROGRESS) {
                break;
            }
            inFlight.removeFirst();
            chunk.release();
            if (status != Ucp.OK && !refused) {
                fail(endpoint.failure("rendezvous chunk of " + chunk.length + " bytes", status));
            } else {
                doneBytes += chunk.length;
            }
        }
        while (refused && nextOffset < total && inFlight.size() < node.pipelineDepth) {
            long length = Math.min(node.chunkBytes, total - nextOffset);
            Chunk empty = Chunk.empty();
            empty.request = node.worker.tagSend(endpoint.ep, address, 0, chunkTag, 0);
            nextOffset += length;
            inFlight.addLast(empty);
        }
        while (!failed && inFlight.size() < node.pipelineDepth && nextOffset < total) {
            long length = Math.min(node.chunkBytes, total - nextOffset);
            Chunk chunk;
            try {
                chunk = Chunk.register(node, address + nextOffset, length, Access.LOCAL_READ);
            } catch (RuntimeException e) {
                fail(new TransportException("cannot register chunk at offset " + nextOffset + " of a "
                        + total + "-byte send to " + endpoint, e));
                break;
            }
            chunk.request = node.worker.tagSend(endpoint.ep, chunk.address, length, chunkTag,
                    endpoint.ready ? chunk.memh : 0);
            nextOffset += length;
            inFlight.addLast(chunk);
        }
        if (inFlight.isEmpty() && (failed && !refused || nextOffset >= total)) {
            if (!failed) {
                future.complete(total);
            }
            node.messaging.rendezvousSends.remove(id);
            return true;
        }
        return timeout(node);
    }

    private boolean timeout(Node node) {
        if (expired(node.engine.now()) && !future.isDone()) {
            fail(node.timedOut("rendezvous send of " + total + " bytes to " + endpoint + " (" + doneBytes
                    + " bytes done)"));
        }
        return false;
    }

    private void fail(TransportException e) {
        failed = true;
        future.completeExceptionally(e);
    }

    @Override
    void abort(Node node, TransportException cause) {
        fail(cause);
    }
}
