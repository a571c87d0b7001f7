package org.memreg.odp;

/** A peer's remote page-table entry for one page of the owner's region (names as in the model). */
public enum PeerPageState {
    /** No entry: an access sends {@code FAULT}. */
    UNMAPPED,
    /** A {@code FAULT} is out; accesses wait (merged) for {@code ESTABLISHED}. */
    FAULTING,
    /** Entry installed: RMA may be issued. */
    MAPPED,
    /** An {@code INVALIDATE} arrived: no new RMA; in-flight operations drain before the {@code ACK}. */
    DRAINING
}
