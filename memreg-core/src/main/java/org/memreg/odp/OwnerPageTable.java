package org.memreg.odp;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The owner's side of on-demand paging for one region: per page its {@link OwnerPageState} and
 * which peers map it, the reclaims waiting for acknowledgements, and the peers it serves. Pure
 * protocol: it is driven by explicit calls ({@link #reclaim}, {@link #onAck}, {@link #onFault},
 * {@link #expireLeases}) and answers through an {@link Outbox}; real memory is behind
 * {@link PageMemory}. Thread-safe (one monitor).
 *
 * <p><b>Reclaim.</b> {@code reclaim(range)} takes the {@code PRESENT} pages of the range to
 * {@code RECLAIMING} under a new epoch and sends {@code INVALIDATE} to every peer that maps one of
 * them. Each {@code ACK} with that epoch clears the peer's mappings; when no peer is left (all
 * acknowledged, or cut off when their lease ran out) the pages are released and become
 * {@code RECLAIMED}. A peer's mapping is cleared only by its {@code ACK}, and a peer acknowledges
 * only after its operations on the pages completed, so no RMA of a live peer reaches a released
 * page.
 *
 * <p><b>Fault.</b> {@code FAULT(range)}: {@code PRESENT} pages are mapped for the peer at once,
 * {@code RECLAIMED} ones are established again first; pages still {@code RECLAIMING} wait for their
 * reclaim to finish and are then established again (so every fault is answered). Faults of
 * several peers on the same pages are answered by one re-establish.
 *
 * <p><b>Cut-off.</b> A peer cut off (lease expiry or {@link #disconnect}) loses its mappings; its
 * later messages are ignored and {@link Outbox#cutOff} tells the transport to revoke its keys. A
 * peer that reconnects is {@linkplain #connect connected} under a new id with no mappings.
 */
public final class OwnerPageTable {
    /** Where the owner's messages go. */
    public interface Outbox {
        /** Sends {@code message} to {@code peer} (FIFO per peer, lossless). */
        void send(long peer, OdpMessage message);

        /** {@code peer} was cut off: revoke its access to the region. */
        default void cutOff(long peer) {
        }
    }

    private final int pages;
    private final OwnerPageState[] state;
    private final PageMemory memory;
    private final Outbox outbox;
    private final long leaseNanos;
    private final Map<Long, BitSet> mapped = new HashMap<>();
    private final Map<Long, BitSet> waiting = new HashMap<>();
    private final Set<Long> cutOff = new HashSet<>();
    private final List<Reclaim> reclaims = new ArrayList<>();
    private final OdpCounters counters;
    private long epoch;

    private static final class Reclaim {
        final long epoch;
        final PageRange span;
        final BitSet pages;
        final Set<Long> pending = new LinkedHashSet<>();
        final long started;

        Reclaim(long epoch, PageRange span, BitSet pages, long started) {
            this.epoch = epoch;
            this.span = span;
            this.pages = pages;
            this.started = started;
        }
    }

    /**
     * A table of {@code pages} pages, all {@code PRESENT} (the region starts resident) and mapped
     * by nobody; a peer that does not acknowledge within {@code leaseNanos} is cut off.
     */
    public OwnerPageTable(int pages, PageMemory memory, Outbox outbox, long leaseNanos) {
        this(pages, memory, outbox, leaseNanos, OdpCounters.inMemory(org.memreg.stat.SetKind.ODP_REGION));
    }

    /** As {@link #OwnerPageTable(int, PageMemory, Outbox, long)}, counting into {@code counters}. */
    OwnerPageTable(int pages, PageMemory memory, Outbox outbox, long leaseNanos, OdpCounters counters) {
        this.counters = counters;
        if (pages <= 0 || leaseNanos <= 0) {
            throw new IllegalArgumentException("pages and lease must be positive: " + pages + ", " + leaseNanos);
        }
        this.pages = pages;
        this.state = new OwnerPageState[pages];
        java.util.Arrays.fill(state, OwnerPageState.PRESENT);
        this.memory = memory;
        this.outbox = outbox;
        this.leaseNanos = leaseNanos;
    }

    /** Number of pages. */
    public int pages() {
        return pages;
    }

    /** Starts serving {@code peer} with no mappings. A peer id used before is refused. */
    public synchronized void connect(long peer) {
        if (mapped.containsKey(peer) || cutOff.contains(peer)) {
            throw new IllegalStateException("peer " + Long.toHexString(peer) + " is known; reconnect under a new id");
        }
        mapped.put(peer, new BitSet(pages));
    }

    /** Cuts {@code peer} off at once (it failed or left): as if its lease had expired, uncounted. */
    public synchronized void disconnect(long peer) {
        if (mapped.containsKey(peer)) {
            cut(peer);
            finishReady();
        }
    }

    /**
     * Starts reclaiming the {@code PRESENT} pages of {@code range} at time {@code now} (nanos, the
     * clock {@link #expireLeases} uses). Returns the reclaim's epoch, or 0 when no page of the
     * range was {@code PRESENT}. Pages no peer maps are released before this returns.
     */
    public synchronized long reclaim(PageRange range, long now) {
        check(range);
        BitSet taken = new BitSet(pages);
        for (int p = range.first(); p < range.end(); p++) {
            if (state[p] == OwnerPageState.PRESENT) {
                taken.set(p);
            }
        }
        if (taken.isEmpty()) {
            return 0;
        }
        long e = ++epoch;
        for (int p = taken.nextSetBit(0); p >= 0; p = taken.nextSetBit(p + 1)) {
            state[p] = OwnerPageState.RECLAIMING;
        }
        PageRange span = new PageRange(taken.nextSetBit(0), taken.length() - taken.nextSetBit(0));
        Reclaim r = new Reclaim(e, span, taken, now);
        for (Map.Entry<Long, BitSet> m : mapped.entrySet()) {
            if (m.getValue().intersects(taken)) {
                r.pending.add(m.getKey());
            }
        }
        reclaims.add(r);
        for (long peer : r.pending) {
            counters.invalidationsSent.increment();
            outbox.send(peer, new OdpMessage.Invalidate(span, e));
        }
        finishReady();
        return e;
    }

    /** An {@code ACK}: counted when it names a reclaim still waiting for that peer, else ignored. */
    public synchronized void onAck(OdpMessage.Ack ack) {
        for (Reclaim r : reclaims) {
            if (r.epoch == ack.epoch() && r.pending.remove(ack.peer())) {
                counters.invalidationsAcked.increment();
                mapped.get(ack.peer()).andNot(r.pages);
                finishReady();
                return;
            }
        }
    }

    /** A {@code FAULT}: maps, establishes or defers the pages (see the class comment); unknown peers are ignored. */
    public synchronized void onFault(OdpMessage.Fault fault) {
        BitSet map = mapped.get(fault.peer());
        if (map == null) {
            return;
        }
        check(fault.range());
        counters.faults.increment();
        BitSet serve = new BitSet(pages);
        for (int p = fault.range().first(); p < fault.range().end(); p++) {
            if (state[p] == OwnerPageState.RECLAIMING) {
                waiting.computeIfAbsent(fault.peer(), k -> new BitSet(pages)).set(p);
            } else {
                serve.set(p);
            }
        }
        establish(serve);
        answer(fault.peer(), serve);
    }

    /**
     * Cuts off every peer that has not acknowledged a reclaim started {@code leaseNanos} or more
     * before {@code now}, and finishes those reclaims. Returns the number of peers cut off.
     */
    public synchronized int expireLeases(long now) {
        Set<Long> late = new LinkedHashSet<>();
        for (Reclaim r : reclaims) {
            if (now - r.started >= leaseNanos) {
                late.addAll(r.pending);
            }
        }
        for (long peer : late) {
            counters.leaseExpiries.increment();
            cut(peer);
        }
        finishReady();
        return late.size();
    }

    /** The earliest time {@link #expireLeases} could cut someone off, or {@code Long.MAX_VALUE} when no reclaim waits. */
    public synchronized long nextLeaseDeadline() {
        long next = Long.MAX_VALUE;
        for (Reclaim r : reclaims) {
            next = Math.min(next, r.started + leaseNanos);
        }
        return next;
    }

    /**
     * True when an RMA by {@code peer} on {@code range} is allowed now: the peer is served and
     * maps every page (so no page is {@code RECLAIMED}). Used to check every access the owner sees.
     */
    public synchronized boolean accessAllowed(long peer, PageRange range) {
        BitSet map = mapped.get(peer);
        if (map == null) {
            return false;
        }
        for (int p = range.first(); p < range.end(); p++) {
            if (!map.get(p) || state[p] == OwnerPageState.RECLAIMED) {
                return false;
            }
        }
        return true;
    }

    /** The state of {@code page}. */
    public synchronized OwnerPageState state(int page) {
        return state[page];
    }

    /** True when {@code peer} maps {@code page}. */
    public synchronized boolean maps(long peer, int page) {
        BitSet map = mapped.get(peer);
        return map != null && map.get(page);
    }

    /** True when {@code peer} was cut off. */
    public synchronized boolean isCutOff(long peer) {
        return cutOff.contains(peer);
    }

    /** Reclaims waiting for acknowledgements. */
    public synchronized int pendingReclaims() {
        return reclaims.size();
    }

    /** Pages whose fault waits for a reclaim to finish. */
    public synchronized int waitingFaultPages() {
        int n = 0;
        for (BitSet w : waiting.values()) {
            n += w.cardinality();
        }
        return n;
    }

    /** The current epoch. */
    public synchronized long epoch() {
        return epoch;
    }

    /** The counters now. */
    public OdpStats stats() {
        return counters.snapshot();
    }

    private void cut(long peer) {
        mapped.remove(peer);
        waiting.remove(peer);
        cutOff.add(peer);
        for (Reclaim r : reclaims) {
            r.pending.remove(peer);
        }
        outbox.cutOff(peer);
    }

    /** Finishes reclaims with no peer left to wait for: release, then serve faults that waited on them. */
    private void finishReady() {
        for (Iterator<Reclaim> it = reclaims.iterator(); it.hasNext();) {
            Reclaim r = it.next();
            if (!r.pending.isEmpty()) {
                continue;
            }
            it.remove();
            for (int p = r.pages.nextSetBit(0); p >= 0; p = r.pages.nextSetBit(p + 1)) {
                state[p] = OwnerPageState.RECLAIMED;
            }
            runs(r.pages, memory::release);
            counters.pagesReclaimed.add(r.pages.cardinality());
        }
        for (Iterator<Map.Entry<Long, BitSet>> it = waiting.entrySet().iterator(); it.hasNext();) {
            Map.Entry<Long, BitSet> w = it.next();
            BitSet serve = new BitSet(pages);
            for (int p = w.getValue().nextSetBit(0); p >= 0; p = w.getValue().nextSetBit(p + 1)) {
                if (state[p] != OwnerPageState.RECLAIMING) {
                    serve.set(p);
                }
            }
            if (serve.isEmpty()) {
                continue;
            }
            w.getValue().andNot(serve);
            if (w.getValue().isEmpty()) {
                it.remove();
            }
            establish(serve);
            answer(w.getKey(), serve);
        }
    }

    private void establish(BitSet serve) {
        BitSet missing = new BitSet(pages);
        for (int p = serve.nextSetBit(0); p >= 0; p = serve.nextSetBit(p + 1)) {
            if (state[p] == OwnerPageState.RECLAIMED) {
                missing.set(p);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        runs(missing, memory::establish);
        for (int p = missing.nextSetBit(0); p >= 0; p = missing.nextSetBit(p + 1)) {
            state[p] = OwnerPageState.PRESENT;
        }
        counters.pagesReestablished.add(missing.cardinality());
    }

    private void answer(long peer, BitSet serve) {
        mapped.get(peer).or(serve);
        runs(serve, run -> outbox.send(peer, new OdpMessage.Established(run, epoch)));
    }

    private void check(PageRange range) {
        if (range.end() > pages) {
            throw new IndexOutOfBoundsException("range " + range + " outside " + pages + " pages");
        }
    }

    /** Calls {@code action} for each maximal run of set bits. */
    static void runs(BitSet bits, java.util.function.Consumer<PageRange> action) {
        for (int p = bits.nextSetBit(0); p >= 0;) {
            int end = bits.nextClearBit(p);
            action.accept(new PageRange(p, end - p));
            p = bits.nextSetBit(end);
        }
    }
}
