package org.memreg.odp;

/** The owner's state of one page of an ODP region (same names as in the Promela model). */
public enum OwnerPageState {
    /** Resident and pinned; peers in its mapper set may access it. */
    PRESENT,
    /** An {@code INVALIDATE} went out; waiting for the mappers' {@code ACK}s or leases. */
    RECLAIMING,
    /** Unpinned and given back to the kernel; no peer maps it. */
    RECLAIMED
}
