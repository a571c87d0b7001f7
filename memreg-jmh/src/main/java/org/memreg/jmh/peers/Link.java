package org.memreg.jmh.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One side of a message link between two JVMs, driven by the thread that calls it (no hand-off):
 * the shape in which memreg and Aeron run {@link PeerBench}'s protocol. Netty runs the same
 * protocol in its event loop instead ({@link NettyPeer}).
 */
interface Link extends AutoCloseable {
    /** The buffer whose first bytes {@link #send} sends; filled by the caller. */
    Bytes out();

    /**
     * For a sender that writes each message anew ({@link PeerBench}'s {@code fresh} test): the memory
     * the next {@link #send} sends from, at least {@code length} bytes, which the caller then writes.
     * Waits, where the link must, until the message that last lay there is no longer needed (its
     * send done, or read by the receiver). Default: {@link #out()}'s memory, for a link whose send
     * has copied the message when it returns.
     */
    default MemorySegment claim(int length) throws Exception {
        return out().segment();
    }

    /**
     * Sends the first {@code length} bytes of {@link #out()}, or of the memory {@link #claim}
     * returned last; blocks while {@link PeerBench#DEPTH} sends are in flight.
     */
    void send(int length) throws Exception;

    /** Waits until every send in flight is done. */
    void drain() throws Exception;

    /** Receives the next message and returns its {@link Checksum}, having read every byte of it where it lies. */
    long receive() throws Exception;

    @Override
    void close();

    /** {@code count} page-aligned buffers of at least {@code length} bytes from {@code arena}, used in turn. */
    static MemorySegment[] ring(Arena arena, int count, int length) {
        MemorySegment[] ring = new MemorySegment[count];
        for (int i = 0; i < ring.length; i++) {
            ring[i] = arena.allocate(Math.max(8, length), 4096);
        }
        return ring;
    }
}
