package org.memreg.odp;

/**
 * The four control messages of the on-demand paging protocol, with the names the Promela model
 * ({@code src/test/promela/odp.pml}) uses. Owner to peer: {@link Invalidate}, {@link Established};
 * peer to owner: {@link Ack}, {@link Fault}. Messages from a peer name it, since the owner
 * serves several peers from one table.
 *
 * <p><b>Epochs.</b> The owner keeps one counter per region; every reclaim takes the next value,
 * and every {@code ESTABLISHED} carries the current one. A peer installs an entry only from an
 * {@code ESTABLISHED} stamped no earlier than the last {@code INVALIDATE} it saw for that page; the owner
 * counts an {@code ACK} only when its epoch is the one of a reclaim still waiting for that peer.
 * Races between a reclaim and a fault, and late messages from a peer that was cut off, are
 * settled by these comparisons, not by timing.
 */
public sealed interface OdpMessage {
    /** The pages the message is about. */
    PageRange range();

    /** The epoch the message is stamped with. */
    long epoch();

    /** Owner to peer: stop accessing {@code range}, drain, drop the entries, then {@link Ack}. */
    record Invalidate(PageRange range, long epoch) implements OdpMessage {
    }

    /** Peer to owner: no operation on {@code range} is in flight any more; reclaim {@code epoch} may go on. */
    record Ack(long peer, PageRange range, long epoch) implements OdpMessage {
    }

    /** Peer to owner: the peer wants {@code range}; {@code epoch} is the newest it has seen. */
    record Fault(long peer, PageRange range, long epoch) implements OdpMessage {
    }

    /** Owner to peer: {@code range} is present and pinned; install the entries (stamped {@code epoch}). */
    record Established(PageRange range, long epoch) implements OdpMessage {
    }
}
