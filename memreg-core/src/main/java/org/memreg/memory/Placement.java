package org.memreg.memory;

/**
 * Where a {@link RegisteredArena} allocation's pages should come from: called on the fresh
 * mapping before it is registered (registering faults the pages in, so a NUMA policy set here,
 * such as {@code mbind}, decides their node). For example, with {@code org.memreg.numa}:
 * {@code (address, length) -> topology.placement().bind(address, length, NodeSet.of(1), false)}.
 */
@FunctionalInterface
public interface Placement {
    /** Places {@code [address, address + length)}, a fresh mapping nobody has touched. */
    void place(long address, long length);
}
