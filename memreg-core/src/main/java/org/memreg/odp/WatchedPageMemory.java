package org.memreg.odp;

import java.util.concurrent.ConcurrentLinkedQueue;
import org.memreg.linux.Mincore;
import org.memreg.monitor.MemoryEventKind;
import org.memreg.monitor.MemoryMonitor;

/**
 * An ODP region's {@link PageMemory} that also learns which pages the application drops itself
 * ({@link OdpRegion#watchRemovals}): a memory monitor's REMOVE events name them, a SUSPECT (events
 * were lost) or a failed monitor sends the region thread to ask the kernel ({@code mincore}). The
 * region's own releases raise REMOVEs too; those are told apart and ignored.
 *
 * <p>The listener only queues; {@link #reclaimDropped} turns what it queued into reclaims, on the
 * region thread.
 */
final class WatchedPageMemory implements PageMemory {
    private final PageMemory memory;
    private final String name;
    private final long base;
    private final long pageSize;
    private final int pages;
    /** Page ranges the application removed (REMOVE events), for the region thread. */
    private final ConcurrentLinkedQueue<PageRange> removed = new ConcurrentLinkedQueue<>();
    /** {start, end} of the release the region itself is doing now (its own REMOVE events), or null. */
    private volatile long[] releasing;
    private volatile MemoryMonitor monitor;
    /** A SUSPECT event came (events were lost): the region thread looks for pages dropped unseen. */
    private volatile boolean suspect;
    /** The region thread's: the monitor failed, and every tick looks for pages dropped unseen. */
    private boolean scanEveryTick;

    /** {@code memory} of {@code pages} pages at {@code base}; {@code name} (the region's) is for the log. */
    WatchedPageMemory(PageMemory memory, String name, long base, long pageSize, int pages) {
        this.memory = memory;
        this.name = name;
        this.base = base;
        this.pageSize = pageSize;
        this.pages = pages;
    }

    @Override
    public void release(PageRange range) {
        releasing = new long[] {base + range.first() * pageSize, base + range.end() * pageSize};
        try {
            memory.release(range); // with a monitor: blocks until its reader read the REMOVE
            MemoryMonitor m = monitor;
            if (m != null) {
                m.gate().awaitDelivery(); // read is not delivered: our event must still see `releasing`
            }
        } finally {
            releasing = null;
        }
    }

    @Override
    public void establish(PageRange range) {
        memory.establish(range);
    }

    /**
     * Starts {@code monitor} on the region's memory (see {@link OdpRegion#watchRemovals}).
     *
     * @return false when the monitor cannot watch it (then the monitor is closed)
     */
    boolean watch(MemoryMonitor monitor) {
        long end = base + pages * pageSize;
        monitor.start((kind, start, stop, taken) -> {
            if (kind == MemoryEventKind.SUSPECT) {
                suspect = true; // which pages went is not known: the region thread asks the kernel
                return;
            }
            long[] own = releasing;
            if (kind != MemoryEventKind.REMOVE || (own != null && start >= own[0] && stop <= own[1])) {
                return;
            }
            long from = Math.max(start, base);
            long to = Math.min(stop, end);
            if (from < to) {
                int first = (int) ((from - base) / pageSize);
                int last = (int) ((to - base + pageSize - 1) / pageSize);
                removed.add(new PageRange(first, last - first)); // never blocks: the region thread acts
            }
        });
        if (!monitor.watch(base, end - base)) {
            monitor.close();
            return false;
        }
        this.monitor = monitor;
        return true;
    }

    /**
     * The region thread's, every tick: reclaims in {@code table} the pages the application dropped,
     * as REMOVE events named them and, after a SUSPECT or once the monitor failed, as the kernel
     * says ({@link #reclaimUnresident}).
     */
    void reclaimDropped(OwnerPageTable table) {
        for (PageRange r; (r = removed.poll()) != null;) {
            table.reclaim(r, System.nanoTime());
        }
        if (suspect || monitorFailed()) {
            suspect = false;
            reclaimUnresident(table);
        }
    }

    /**
     * Reclaims the pages {@code table} says are {@code PRESENT} but the kernel no longer has: pages
     * the application dropped while no REMOVE said so (events were lost, or the monitor failed). A
     * present page is pinned, so only the application's munlock and madvise take it; a page it
     * unlocked that the kernel swapped out looks the same and is reclaimed too (its contents go).
     */
    private void reclaimUnresident(OwnerPageTable table) {
        synchronized (table) {
            boolean[] resident = residency();
            int from = -1;
            for (int p = 0; p <= pages; p++) {
                boolean dropped = p < pages && !resident[p] && table.state(p) == OwnerPageState.PRESENT;
                if (dropped && from < 0) {
                    from = p;
                } else if (!dropped && from >= 0) {
                    table.reclaim(new PageRange(from, p - from), System.nanoTime());
                    from = -1;
                }
            }
        }
    }

    /**
     * True once the monitor of {@link #watch} failed: no REMOVE will come any more, so every tick
     * from then on looks for dropped pages itself (logged once).
     */
    private boolean monitorFailed() {
        MemoryMonitor m = monitor;
        if (!scanEveryTick && m != null && m.stats().readerFailures() > 0) {
            scanEveryTick = true;
            System.getLogger(OdpRegion.class.getName()).log(System.Logger.Level.WARNING, name
                    + ": its memory monitor failed; pages the application drops are now found by asking the"
                    + " kernel (mincore) every " + OdpRegion.TICK_MILLIS + " ms");
        }
        return scanEveryTick;
    }

    /** Pages {@code table} says are {@code RECLAIMED} but {@code mincore} finds resident (see {@link OdpRegion#residentReclaimedPages}). */
    int residentReclaimedPages(OwnerPageTable table) {
        synchronized (table) {
            boolean[] resident = residency();
            int n = 0;
            for (int p = 0; p < pages; p++) {
                if (resident[p] && table.state(p) == OwnerPageState.RECLAIMED) {
                    n++;
                }
            }
            return n;
        }
    }

    private boolean[] residency() {
        return Mincore.residency(base, pages * pageSize);
    }

    /** Closes the monitor, if one watches: before the memory is unmapped, whose UNMAP event would wait for a reader. */
    void close() {
        MemoryMonitor m = monitor;
        if (m != null) {
            m.close();
        }
    }
}
