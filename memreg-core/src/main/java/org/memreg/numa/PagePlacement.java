package org.memreg.numa;

import org.memreg.linux.MovePages;

/**
 * Where the pages of one process sit and how to place and move them: the one interface behind
 * which a real kernel ({@link LinuxPagePlacement}) and a {@link SimulatedTopology} do the same
 * things, so that placement and migration logic runs unchanged on both.
 *
 * <p>Page statuses are the kernel's {@code move_pages} codes: a node id (≥ 0), or
 * {@link MovePages#NOT_PRESENT}, {@link MovePages#ZERO_PAGE} or another negative errno
 * ({@link MovePages#describe}). A page never touched, or an address no mapping covers, is
 * {@link MovePages#NOT_PRESENT} on every kernel where the process's pagemap can be read (this
 * process, or another of the same user): Linux 6.1's move_pages says -EFAULT for it, as for the
 * zero page, and the present bit tells them apart.
 *
 * <p>Addresses need not be page aligned: every page overlapping a range counts. Thread safe.
 */
public interface PagePlacement {
    /** The topology whose nodes the statuses name. */
    Topology topology();

    /** The process whose pages these are; {@link MovePages#SELF} (0) for this one. */
    int pid();

    /** The page size. */
    long pageSize();

    /**
     * The status of every page overlapping {@code [address, address + length)}.
     *
     * @throws org.memreg.linux.LinuxException when the query fails as a whole (no such process,
     *     not allowed)
     */
    PageNodes query(long address, long length);

    /**
     * Moves page {@code pages[i]} to node {@code targets[i]} for {@code i < count} and writes
     * each page's outcome into {@code status[i]}: its node now (the target, when it moved or was
     * already there), or a negative errno — {@link MovePages#NOT_PRESENT} for a page with nothing
     * to move. Pages must be page aligned.
     *
     * @throws org.memreg.linux.LinuxException when the call fails as a whole; ENODEV when a
     *     target node does not exist
     */
    void move(long[] pages, int[] targets, int[] status, int count);

    /**
     * Binds {@code [address, address + length)} of this process to {@code nodes}
     * ({@code mbind(MPOL_BIND)}): pages faulted in from now on come from those nodes; with
     * {@code moveExisting} the pages already there that are elsewhere are moved too
     * (MPOL_MF_MOVE). The range must be page aligned. Moving pages under a live registration
     * makes it stale: move registered memory with {@link RangeMigrator}, not this.
     *
     * @throws java.util.NoSuchElementException when a node does not exist
     * @throws org.memreg.linux.LinuxException when the kernel refuses
     * @throws UnsupportedOperationException for another process
     */
    void bind(long address, long length, NodeSet nodes, boolean moveExisting);

    /**
     * First touch from node {@code node}: on a platform thread pinned to the node's CPUs, faults
     * every page of {@code [address, address + length)} of this process in for writing without
     * touching its contents ({@code MADV_POPULATE_WRITE}), so pages not yet present are allocated
     * by that node's policy — on the node itself unless the range is bound elsewhere. Pages
     * already present stay where they are. Returns when done.
     *
     * @throws java.util.NoSuchElementException when the node does not exist
     * @throws IllegalStateException when the node has no CPU to run on
     * @throws IllegalArgumentException when part of the range is not mapped writable, before or
     *     while it is touched (another thread unmapped it)
     * @throws UnsupportedOperationException for another process
     */
    void touchFrom(int node, long address, long length) throws InterruptedException;
}
