package org.memreg.numa;

import java.util.BitSet;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MemoryPolicy;
import org.memreg.linux.MovePages;
import org.memreg.linux.Pagemap;
import org.memreg.linux.SysConf;

/**
 * {@link PagePlacement} by the kernel: {@code move_pages} (query and move, this or another
 * process), {@code mbind}, and first touch from threads pinned with {@code sched_setaffinity}.
 * Queries and moves go to the kernel in batches of {@value #BATCH} pages.
 */
final class LinuxPagePlacement implements PagePlacement {
    static final int BATCH = 4096;

    private final Topology topology;
    private final int pid;
    private final long pageSize = SysConf.pageSize();

    private LinuxPagePlacement(Topology topology, int pid) {
        this.topology = topology;
        this.pid = pid;
    }

    static LinuxPagePlacement self(Topology topology) {
        return new LinuxPagePlacement(topology, MovePages.SELF);
    }

    static LinuxPagePlacement of(Topology topology, int pid) {
        if (pid < 0) {
            throw new IllegalArgumentException("bad pid " + pid);
        }
        return new LinuxPagePlacement(topology, pid == ProcessHandle.current().pid() ? MovePages.SELF : pid);
    }

    @Override
    public Topology topology() {
        return topology;
    }

    @Override
    public int pid() {
        return pid;
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public PageNodes query(long address, long length) {
        return query(pid, address, length, pageSize);
    }

    /** The kernel's statuses of the pages of {@code [address, address + length)} of {@code pid}. */
    static PageNodes query(int pid, long address, long length, long pageSize) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive: " + length);
        }
        long first = address - Long.remainderUnsigned(address, pageSize);
        int pages = Math.toIntExact(Math.ceilDiv(address + length - first, pageSize));
        int[] status = new int[pages];
        long[] batch = new long[Math.min(BATCH, pages)];
        int[] batchStatus = new int[batch.length];
        for (int done = 0; done < pages; ) {
            int count = Math.min(batch.length, pages - done);
            for (int i = 0; i < count; i++) {
                batch[i] = first + (done + i) * pageSize;
            }
            int result = MovePages.query(pid, batch, batchStatus, count);
            if (result < 0) {
                throw new LinuxException("move_pages", -result, "query of pid " + pid);
            }
            System.arraycopy(batchStatus, 0, status, done, count);
            done += count;
        }
        untouchedFromZeroPage(pid, first, pageSize, status);
        return new PageNodes(first, pageSize, status);
    }

    /**
     * Linux 6.1 answers -EFAULT for a page never touched as for the zero page (6.18 gives -ENOENT
     * for the former), so a -EFAULT page that pagemap says is not present is {@link
     * MovePages#NOT_PRESENT}: the same answer on every kernel. Where pagemap cannot be read (another
     * user's process) the statuses stay as the kernel gave them.
     */
    private static void untouchedFromZeroPage(int pid, long first, long pageSize, int[] status) {
        int from = 0;
        while (from < status.length && status[from] != MovePages.ZERO_PAGE) {
            from++;
        }
        int to = status.length;
        while (to > from && status[to - 1] != MovePages.ZERO_PAGE) {
            to--;
        }
        if (from == to) {
            return;
        }
        long[] entries = Pagemap.readOf(pid, first + from * pageSize, to - from);
        if (entries == null) {
            return;
        }
        for (int i = from; i < to; i++) {
            if (status[i] == MovePages.ZERO_PAGE && !Pagemap.isPresent(entries[i - from])) {
                status[i] = MovePages.NOT_PRESENT;
            }
        }
    }

    @Override
    public void move(long[] pages, int[] targets, int[] status, int count) {
        long[] batch = new long[Math.min(BATCH, count)];
        int[] batchTargets = new int[batch.length];
        int[] batchStatus = new int[batch.length];
        for (int done = 0; done < count; ) {
            int n = Math.min(batch.length, count - done);
            System.arraycopy(pages, done, batch, 0, n);
            System.arraycopy(targets, done, batchTargets, 0, n);
            long result = MovePages.move(pid, batch, batchTargets, batchStatus, n, MovePages.MPOL_MF_MOVE);
            if (result < 0) {
                throw new LinuxException("move_pages", (int) -result, "move of " + n + " pages of pid " + pid
                        + (result == -org.memreg.linux.Errno.ENODEV ? " (a target node does not exist or is offline; nodes: "
                                + topology.nodeSet() + ")" : ""));
            }
            System.arraycopy(batchStatus, 0, status, done, n);
            done += n;
        }
    }

    @Override
    public void bind(long address, long length, NodeSet nodes, boolean moveExisting) {
        requireSelf("bind");
        topology.requireNodes(nodes, "bind");
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("cannot bind to no node");
        }
        MemoryPolicy.mbind(address, length, MemoryPolicy.MPOL_BIND, BitSet.valueOf(new long[] {nodes.mask()}),
                moveExisting ? MemoryPolicy.MPOL_MF_MOVE : 0);
    }

    @Override
    public void touchFrom(int node, long address, long length) throws InterruptedException {
        requireSelf("first touch");
        PinnedTouch.touch(topology.node(node).cpus(), address, length, pageSize);
    }

    private void requireSelf(String what) {
        if (pid != MovePages.SELF) {
            throw new UnsupportedOperationException(what + " works on this process only, not pid " + pid);
        }
    }
}
