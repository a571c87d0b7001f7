package org.memreg.odp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A peer's remote page table for one owner's region: which pages it may access now
 * ({@link PeerPageState}), its RMA operations in flight per page, and the invalidations it still
 * has to acknowledge. Pure protocol, driven by explicit calls; messages to the owner go to an
 * {@link Outbox}. Thread-safe (one monitor). A peer that reconnects makes a new, empty table.
 *
 * <p><b>Access.</b> {@link #tryBegin} is the hot path: when every page of the range is
 * {@code MAPPED} it counts the operation in flight and returns true; otherwise it asks for the
 * pages (a {@code FAULT} for {@code UNMAPPED} ones; pages already {@code FAULTING} are merged;
 * {@code DRAINING} ones fault once drained) and returns false. {@link #end} ends an operation.
 *
 * <p><b>Invalidation.</b> {@code INVALIDATE(range, epoch)}: {@code MAPPED} pages become
 * {@code DRAINING} (no new operation may begin); once no operation on the range is in flight the
 * pages become {@code UNMAPPED} and the {@code ACK} goes out.
 */
public final class PeerPageTable {
    /** Where the peer's messages go (to the owner; FIFO, lossless). */
    @FunctionalInterface
    public interface Outbox {
        void send(OdpMessage message);
    }

    private record Pending(PageRange range, long epoch) {
    }

    private record Waiter(PageRange range, CompletableFuture<Void> future) {
    }

    private final long peer;
    private final int pages;
    private final PeerPageState[] state;
    private final long[] invalidated;
    private final int[] inFlight;
    private final BitSet wanted;
    private final List<Pending> pending = new ArrayList<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private final Outbox outbox;
    private final OdpCounters counters;
    private long seenEpoch;
    /** Why every wait fails from now on ({@link #close}), or null while the table is in use. */
    private RuntimeException closed;

    /** An empty table (every page {@code UNMAPPED}) of peer {@code peer} for a region of {@code pages} pages. */
    public PeerPageTable(long peer, int pages, Outbox outbox) {
        this(peer, pages, outbox, OdpCounters.inMemory(org.memreg.stat.SetKind.ODP_MAPPING));
    }

    /** As {@link #PeerPageTable(long, int, Outbox)}, counting into {@code counters}. */
    PeerPageTable(long peer, int pages, Outbox outbox, OdpCounters counters) {
        this.counters = counters;
        if (pages <= 0) {
            throw new IllegalArgumentException("pages must be positive: " + pages);
        }
        this.peer = peer;
        this.pages = pages;
        this.state = new PeerPageState[pages];
        Arrays.fill(state, PeerPageState.UNMAPPED);
        this.invalidated = new long[pages];
        this.inFlight = new int[pages];
        this.wanted = new BitSet(pages);
        this.outbox = outbox;
    }

    /** This peer's id, as the owner knows it. */
    public long peer() {
        return peer;
    }

    /** Number of pages. */
    public int pages() {
        return pages;
    }

    /**
     * Begins an operation on {@code range} when every page is {@code MAPPED} (true); otherwise asks
     * for the missing pages and returns false (retry after {@link #whenMapped}). After
     * {@link #close} it begins none: false, and {@link #whenMapped} fails.
     */
    public synchronized boolean tryBegin(PageRange range) {
        check(range);
        if (closed != null) {
            return false;
        }
        for (int p = range.first(); p < range.end(); p++) {
            if (state[p] != PeerPageState.MAPPED) {
                request(range);
                return false;
            }
        }
        for (int p = range.first(); p < range.end(); p++) {
            inFlight[p]++;
        }
        return true;
    }

    /** Ends an operation begun by {@link #tryBegin}; may send the {@code ACK}s it held back. */
    public synchronized void end(PageRange range) {
        check(range);
        for (int p = range.first(); p < range.end(); p++) {
            if (inFlight[p] == 0) {
                throw new IllegalStateException("no operation in flight on page " + p);
            }
            inFlight[p]--;
        }
        drain();
    }

    /** Completes when every page of {@code range} is {@code MAPPED} (at once if it is), asking for missing pages. */
    public synchronized CompletableFuture<Void> whenMapped(PageRange range) {
        check(range);
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (closed != null) {
            f.completeExceptionally(closed);
        } else if (allMapped(range)) {
            f.complete(null);
        } else {
            request(range);
            waiters.add(new Waiter(range, f));
        }
        return f;
    }

    /**
     * No page will come for this table any more (its mapping closed, or the owner is gone or
     * revoked its key): every wait for pages fails with {@code cause} at once, and so does every
     * later one, rather than wait out its timeout; no operation begins any more.
     */
    public synchronized void close(RuntimeException cause) {
        closed = cause;
        for (Waiter w : waiters) {
            w.future().completeExceptionally(cause);
        }
        waiters.clear();
    }

    /** An {@code INVALIDATE} from the owner. */
    public synchronized void onInvalidate(OdpMessage.Invalidate m) {
        check(m.range());
        seenEpoch = Math.max(seenEpoch, m.epoch());
        for (int p = m.range().first(); p < m.range().end(); p++) {
            invalidated[p] = Math.max(invalidated[p], m.epoch());
            if (state[p] == PeerPageState.MAPPED) {
                state[p] = PeerPageState.DRAINING;
            }
        }
        pending.add(new Pending(m.range(), m.epoch()));
        drain();
    }

    /** An {@code ESTABLISHED} from the owner: installs entries not older than the page's last invalidation. */
    public synchronized void onEstablished(OdpMessage.Established m) {
        check(m.range());
        seenEpoch = Math.max(seenEpoch, m.epoch());
        for (int p = m.range().first(); p < m.range().end(); p++) {
            if (m.epoch() >= invalidated[p]
                    && (state[p] == PeerPageState.FAULTING || state[p] == PeerPageState.UNMAPPED)) {
                state[p] = PeerPageState.MAPPED;
            }
        }
        wake();
    }

    /** The state of {@code page}. */
    public synchronized PeerPageState state(int page) {
        return state[page];
    }

    /** Operations in flight on {@code page}. */
    public synchronized int inFlight(int page) {
        return inFlight[page];
    }

    /** True when no operation is in flight on any page. */
    public synchronized boolean idle() {
        for (int n : inFlight) {
            if (n != 0) {
                return false;
            }
        }
        return true;
    }

    /** Pages with a {@code FAULT} out and no answer yet. */
    public synchronized int faultingPages() {
        int n = 0;
        for (PeerPageState s : state) {
            n += s == PeerPageState.FAULTING ? 1 : 0;
        }
        return n;
    }

    /** Invalidations not yet acknowledged. */
    public synchronized int pendingInvalidations() {
        return pending.size();
    }

    /** Counters: faults and invalidations acknowledged (the others stay 0 on a peer). */
    public OdpStats stats() {
        return counters.snapshot();
    }

    private boolean allMapped(PageRange range) {
        for (int p = range.first(); p < range.end(); p++) {
            if (state[p] != PeerPageState.MAPPED) {
                return false;
            }
        }
        return true;
    }

    private void request(PageRange range) {
        BitSet fault = new BitSet(pages);
        for (int p = range.first(); p < range.end(); p++) {
            switch (state[p]) {
                case UNMAPPED -> fault.set(p);
                case DRAINING -> wanted.set(p);
                case FAULTING, MAPPED -> {
                }
            }
        }
        sendFaults(fault);
    }

    private void sendFaults(BitSet fault) {
        for (int p = fault.nextSetBit(0); p >= 0; p = fault.nextSetBit(p + 1)) {
            state[p] = PeerPageState.FAULTING;
        }
        OwnerPageTable.runs(fault, run -> {
            counters.faults.increment();
            outbox.send(new OdpMessage.Fault(peer, run, seenEpoch));
        });
    }

    /** Acknowledges every invalidation whose range has nothing in flight; then faults wanted pages. */
    private void drain() {
        BitSet refault = new BitSet(pages);
        for (Iterator<Pending> it = pending.iterator(); it.hasNext();) {
            Pending inv = it.next();
            boolean idle = true;
            for (int p = inv.range().first(); p < inv.range().end() && idle; p++) {
                idle = inFlight[p] == 0;
            }
            if (!idle) {
                continue;
            }
            it.remove();
            for (int p = inv.range().first(); p < inv.range().end(); p++) {
                if (state[p] == PeerPageState.DRAINING) {
                    state[p] = PeerPageState.UNMAPPED;
                    if (wanted.get(p) || awaited(p)) {
                        wanted.clear(p);
                        refault.set(p);
                    }
                }
            }
            counters.invalidationsAcked.increment();
            outbox.send(new OdpMessage.Ack(peer, inv.range(), inv.epoch()));
        }
        sendFaults(refault);
    }

    private boolean awaited(int page) {
        for (Waiter w : waiters) {
            if (w.range().contains(page)) {
                return true;
            }
        }
        return false;
    }

    private void wake() {
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext();) {
            Waiter w = it.next();
            if (allMapped(w.range())) {
                it.remove();
                w.future().complete(null);
            }
        }
    }

    private void check(PageRange range) {
        if (range.end() > pages) {
            throw new IndexOutOfBoundsException("range " + range + " outside " + pages + " pages");
        }
    }
}
