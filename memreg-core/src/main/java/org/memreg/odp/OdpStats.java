package org.memreg.odp;

/**
 * A snapshot of an ODP page table's counters (they only grow from the table's creation).
 *
 * @param invalidationsSent    {@code INVALIDATE} messages sent (one per peer per reclaim)
 * @param invalidationsAcked   {@code ACK}s counted against a waiting reclaim
 * @param faults               {@code FAULT} messages sent (peer) or received (owner)
 * @param pagesReclaimed       pages released to the kernel
 * @param pagesReestablished   pages made present again for a fault
 * @param leaseExpiries        peers cut off because they did not acknowledge within their lease
 * @param peersGone            peers cut off because their endpoint closed or failed (owner only)
 */
public record OdpStats(long invalidationsSent, long invalidationsAcked, long faults, long pagesReclaimed,
        long pagesReestablished, long leaseExpiries, long peersGone) {
}
