package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.function.Supplier;
import org.memreg.device.Access;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxWorker;
import org.memreg.util.ArenaHold;
import org.memreg.util.OpenArena;

/**
 * The chunks of one rendezvous message, either side: registers the next chunks through the cache
 * and posts them while fewer than {@code depth} are in flight, and takes finished ones off the
 * front in order, releasing their registrations. A {@link RendezvousSendOp} posts tagged sends,
 * a {@link ReceiveOp} tagged receives; neither keeps chunks of its own. Under the node's lock.
 */
final class ChunkPipeline {
    /**
     * Posts one chunk's UCX operation and returns its request (or status pointer); an empty
     * chunk has length and memory handle 0.
     */
    @FunctionalInterface
    interface Post {
        long post(long address, long length, long memh);
    }

    /**
     * Reads a chunk's request: {@link Ucp#INPROGRESS} while it runs, else its status, the request
     * freed. A receiver also checks what arrived against what it expected.
     */
    @FunctionalInterface
    interface Finish {
        int finish(Chunk chunk);
    }

    private final Chunking chunking;
    private final long chunkBytes;
    /** The caller's memory: where the chunks are, and whether its arena is still open. */
    private final MemorySegment memory;
    private final long total;
    private final Access access;
    private final Post post;
    private final Finish finish;
    private final Supplier<String> what;
    /** Keeps the memory's arena open while UCX may use it: no chunk goes before it is in place. */
    private final ArenaHold hold;
    private final ArrayDeque<Chunk> inFlight = new ArrayDeque<>();
    private long nextOffset;
    private long doneBytes;

    /**
     * The pipeline of the first {@code total} bytes of {@code memory} in chunks of {@code chunkBytes} (the
     * sender's, on both sides), none before {@code hold} holds the memory's arena, registered with
     * {@code access}, each chunk posted by {@code post} and read by {@code finish}; {@code what}
     * names the transfer in errors (e.g. "send to endpoint[...]"), asked only when one happens.
     */
    ChunkPipeline(Chunking chunking, long chunkBytes, MemorySegment memory, ArenaHold hold, long total, Access access,
            Post post, Finish finish, Supplier<String> what) {
        this.chunking = chunking;
        this.chunkBytes = chunkBytes;
        this.memory = memory;
        this.hold = hold;
        this.total = total;
        this.access = access;
        this.post = post;
        this.finish = finish;
        this.what = what;
    }

    /**
     * Takes the finished chunks off the front and releases them. Returns {@link Ucp#OK}, or the
     * status of the first that failed. With {@code discard} (a refused message) their status
     * does not matter and their bytes count for nothing.
     */
    int retire(boolean discard) {
        int failure = Ucp.OK;
        while (!inFlight.isEmpty()) {
            Chunk chunk = inFlight.peekFirst();
            int status = finish.finish(chunk);
            if (status == Ucp.INPROGRESS) {
                break;
            }
            inFlight.removeFirst();
            chunk.release();
            if (discard) {
                continue;
            }
            if (status != Ucp.OK) {
                failure = failure == Ucp.OK ? status : failure;
            } else {
                doneBytes += chunk.length;
            }
        }
        return failure;
    }

    /**
     * Registers and posts the next chunks while fewer than the depth are in flight, none before
     * the memory's arena is held.
     *
     * @throws TransportException when a chunk cannot be registered, or the memory's arena was
     *     closed (the caller's bug: its memory may be someone else's now); the chunks before it stay
     *     in flight
     */
    void fill() {
        while (inFlight.size() < chunking.depth() && nextOffset < total) {
            long length = Math.min(chunkBytes, total - nextOffset);
            if (!memory.scope().isAlive()) {
                throw new TransportException("stopped at chunk at offset " + nextOffset + " of a " + total + "-byte "
                        + what.get(), OpenArena.closed(memory, "a chunk"));
            }
            if (!hold.held()) {
                return; // its thread is on the way: a later fill posts
            }
            Chunk chunk;
            try {
                chunk = Chunk.register(chunking.cache(), memory.address() + nextOffset, length, access);
            } catch (RuntimeException e) {
                throw new TransportException("cannot register chunk at offset " + nextOffset + " of a " + total
                        + "-byte " + what.get(), e);
            }
            chunk.request = post.post(chunk.address, length, chunk.memh);
            nextOffset += length;
            inFlight.addLast(chunk);
        }
    }

    /**
     * Posts empty messages in place of the chunks not posted yet, while fewer than the depth are
     * in flight: a refused message's, so that both sides see as many chunks as it has.
     */
    void fillEmpty() {
        while (inFlight.size() < chunking.depth() && nextOffset < total) {
            Chunk empty = Chunk.empty();
            empty.request = post.post(memory.address() + nextOffset, 0, 0);
            nextOffset += Math.min(chunkBytes, total - nextOffset);
            inFlight.addLast(empty);
        }
    }

    /** Asks UCX to cancel every chunk in flight (receives can be); they finish on a later retire. */
    void cancel(UcxWorker worker) {
        for (Chunk chunk : inFlight) {
            if (Ucp.isRequest(chunk.request)) {
                worker.cancel(chunk.request);
            }
        }
    }

    /** The node is closing: hands the requests of the chunks in flight back to UCX ({@link Op#release}). */
    void release() {
        for (Chunk chunk : inFlight) {
            Op.free(chunk.request);
            chunk.request = 0;
        }
    }

    /** True when no chunk is in flight. */
    boolean idle() {
        return inFlight.isEmpty();
    }

    /** True when every chunk was posted. */
    boolean allPosted() {
        return nextOffset >= total;
    }

    long total() {
        return total;
    }

    long doneBytes() {
        return doneBytes;
    }
}
