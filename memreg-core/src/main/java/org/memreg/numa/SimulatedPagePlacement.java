package org.memreg.numa;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MovePages;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcessMaps;
import org.memreg.linux.SysConf;

/**
 * The {@link PagePlacement} of a {@link SimulatedTopology}: real pages of this process, each
 * given a simulated node in a page→node map that this class keeps.
 *
 * <ul>
 * <li><b>Query</b> asks the kernel first: a page that is not present or is the zero page reports
 *     that (and is forgotten); a present page reports its simulated node, or the default node
 *     (0) when it was never placed here or has since been replaced by another frame (detected by
 *     frame number where /proc/self/pagemap shows them, i.e. as root).</li>
 * <li><b>First touch</b> writes each page from a thread pinned to the simulated node's CPUs;
 *     pages that were not present, or the zero page, before are recorded on that node, or on the
 *     first node of a {@link #bind binding} that excludes it.</li>
 * <li><b>Move</b> of a page to another simulated node really gives it a new physical frame:
 *     each run of pages is copied into fresh memory that is then {@code mremap}ed over it
 *     ({@link FrameRelocation}) — as
 *     a kernel migration does, a registration of the old frames becomes stale. Only private
 *     anonymous memory is moved (other pages report EOPNOTSUPP); the copy is not atomic, so
 *     writers to a page being moved may lose their write (the kernel blocks them instead).
 *     Moving to a node that does not exist fails with ENODEV, like the kernel.</li>
 * </ul>
 * Thread safe (one lock); meant for tests and demos, not for big memory.
 */
public final class SimulatedPagePlacement implements PagePlacement {
    private record Placed(int node, long frame) {}

    private record Binding(long start, long end, NodeSet nodes) {}

    private final SimulatedTopology topology;
    private final int defaultNode;
    private final long pageSize = SysConf.pageSize();
    private final Map<Long, Placed> placed = new HashMap<>();
    private final List<Binding> bindings = new ArrayList<>();

    SimulatedPagePlacement(SimulatedTopology topology, int defaultNode) {
        this.topology = topology;
        this.defaultNode = defaultNode;
    }

    @Override
    public Topology topology() {
        return topology;
    }

    @Override
    public int pid() {
        return MovePages.SELF;
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public synchronized PageNodes query(long address, long length) {
        PageNodes real = LinuxPagePlacement.query(MovePages.SELF, address, length, pageSize);
        long[] frames = Pagemap.read(real.firstPage(), real.pages());
        int[] status = new int[real.pages()];
        for (int i = 0; i < status.length; i++) {
            status[i] = simulated(real.page(i), real.status(i), frames[i]);
        }
        return new PageNodes(real.firstPage(), pageSize, status);
    }

    private int simulated(long page, int realStatus, long frame) {
        if (realStatus < 0) {
            placed.remove(page);
            return realStatus;
        }
        Placed p = placed.get(page);
        if (p == null || (Pagemap.pfnsVisible() && p.frame() != Pagemap.pfn(frame))) {
            placed.remove(page);
            return defaultNode;
        }
        return p.node();
    }

    @Override
    public synchronized void move(long[] pages, int[] targets, int[] status, int count) {
        for (int i = 0; i < count; i++) {
            if (!topology.nodeSet().contains(targets[i])) {
                throw new LinuxException("move_pages", Errno.ENODEV, "simulated node " + targets[i]
                        + " does not exist (nodes: " + topology.nodeSet() + ")");
            }
        }
        int[] realStatus = new int[count];
        int result = MovePages.query(MovePages.SELF, pages, realStatus, count);
        if (result < 0) {
            throw new LinuxException("move_pages", -result, "query before a simulated move");
        }
        List<ProcessMaps.Area> maps = ProcessMaps.of(ProcessHandle.current().pid());
        Integer[] order = new Integer[count];
        for (int i = 0; i < count; i++) {
            order[i] = i;
            long frame = realStatus[i] < 0 ? 0 : Pagemap.read(pages[i], 1)[0];
            int now = simulated(pages[i], realStatus[i], frame);
            if (now < 0) {
                status[i] = now;
            } else if (now == targets[i]) {
                status[i] = now;
                placed.put(pages[i], new Placed(now, Pagemap.pfn(frame)));
            } else if (!anonymous(maps, pages[i])) {
                status[i] = -Errno.EOPNOTSUPP;
            } else {
                status[i] = Integer.MIN_VALUE; // to relocate
            }
        }
        Arrays.sort(order, (a, b) -> Long.compareUnsigned(pages[a], pages[b]));
        for (int from = 0; from < count; ) {
            if (status[order[from]] != Integer.MIN_VALUE) {
                from++;
                continue;
            }
            int to = from + 1;
            while (to < count && status[order[to]] == Integer.MIN_VALUE
                    && pages[order[to]] == pages[order[to - 1]] + pageSize) {
                to++;
            }
            long start = pages[order[from]];
            long length = (to - from) * pageSize;
            FrameRelocation.relocate(start, length);
            long[] frames = Pagemap.read(start, to - from);
            for (int k = from; k < to; k++) {
                int i = order[k];
                placed.put(pages[i], new Placed(targets[i], Pagemap.pfn(frames[k - from])));
                status[i] = targets[i];
            }
            from = to;
        }
    }

    private static boolean anonymous(List<ProcessMaps.Area> maps, long page) {
        for (ProcessMaps.Area m : maps) {
            if (m.contains(page)) {
                return m.privateAnonymous() && m.permissions().startsWith("rw");
            }
        }
        return false;
    }

    @Override
    public void bind(long address, long length, NodeSet nodes, boolean moveExisting) {
        topology.requireNodes(nodes, "bind");
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("cannot bind to no node");
        }
        if (Long.remainderUnsigned(address, pageSize) != 0 || length <= 0) {
            throw new IllegalArgumentException(String.format("bind needs a page-aligned range: 0x%x + %d", address, length));
        }
        synchronized (this) {
            bindings.addFirst(new Binding(address, address + length, nodes));
            if (moveExisting) {
                PageNodes now = query(address, length);
                long[] pages = new long[now.pages()];
                int[] targets = new int[now.pages()];
                int count = 0;
                for (int i = 0; i < now.pages(); i++) {
                    if (now.status(i) >= 0 && !nodes.contains(now.status(i))) {
                        pages[count] = now.page(i);
                        targets[count++] = nodes.nth(0);
                    }
                }
                move(pages, targets, new int[count], count);
            }
        }
    }

    @Override
    public void touchFrom(int node, long address, long length) throws InterruptedException {
        NumaNode where = topology.node(node);
        synchronized (this) {
            PageNodes before = LinuxPagePlacement.query(MovePages.SELF, address, length, pageSize);
            PinnedTouch.touch(where.cpus(), address, length, pageSize);
            long[] frames = Pagemap.read(before.firstPage(), before.pages());
            for (int i = 0; i < before.pages(); i++) {
                long page = before.page(i);
                if (before.status(i) < 0 && Pagemap.isPresent(frames[i])) {
                    placed.put(page, new Placed(policyNode(page, node), Pagemap.pfn(frames[i])));
                }
            }
        }
    }

    // Where a page first touched from `node` goes: that node, unless a binding excludes it.
    private int policyNode(long page, int node) {
        for (Binding b : bindings) {
            if (Long.compareUnsigned(page, b.start()) >= 0 && Long.compareUnsigned(page, b.end()) < 0) {
                return b.nodes().contains(node) ? node : b.nodes().nth(0);
            }
        }
        return node;
    }
}
