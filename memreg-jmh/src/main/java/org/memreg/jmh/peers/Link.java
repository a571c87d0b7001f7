package org.memreg.jmh.peers;

/**
 * One side of a message link between two JVMs, driven by the thread that calls it (no hand-off):
 * the shape in which memreg and Aeron run {@link PeerBench}'s protocol. Netty runs the same
 * protocol in its event loop instead ({@link NettyPeer}).
 */
interface Link extends AutoCloseable {
    /** The buffer whose first bytes {@link #send} sends; filled by the caller. */
    Bytes out();

    /** Sends the first {@code length} bytes of {@link #out()}; blocks while {@link PeerBench#DEPTH} sends are in flight. */
    void send(int length) throws Exception;

    /** Waits until every send in flight is done. */
    void drain() throws Exception;

    /** Receives the next message and returns its {@link Checksum}, having read every byte of it where it lies. */
    long receive() throws Exception;

    @Override
    void close();
}
