package org.memreg.cache;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.DeviceException;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.jfr.DeregistrationCause;
import org.memreg.jfr.InvalidationEvent;
import org.memreg.jfr.MemregEvents;
import org.memreg.monitor.EventGate;
import org.memreg.monitor.MemoryEventKind;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.stat.CounterSet;
import org.memreg.stat.ProcessCounters;
import org.memreg.stat.SetKind;
import org.memreg.util.OpenArena;

/**
 * A registration cache: makes repeated registration of the same buffers nearly free, never hands
 * out a stale registration, and stays inside its pinning budget (Open MPI / UCX rcache semantics).
 *
 * <ul>
 *   <li><b>Hit/miss.</b> {@link #acquire} returns a {@link Registration} covering the page-rounded
 *       range with at least the access asked for. A cached registration that covers it is a hit:
 *       one more holder, no device call, no lock. Otherwise the device registers it (a miss).
 *   <li><b>Overlap.</b> A request partly overlapping cached registrations registers anew (the
 *       union, when merging); the overlapped ones leave the index, unused ones are deregistered,
 *       held ones stay valid for their holders and are deregistered when the last one releases.
 *   <li><b>Lazy deregistration.</b> Releasing the last holder keeps the registration cached.
 *   <li><b>Eviction.</b> When the device is exhausted, or {@code maxBytes}/{@code maxEntries}
 *       would be exceeded, the least recently used unused registrations are deregistered one at
 *       a time until the new one fits; a held registration is never evicted.
 *   <li><b>Invalidation.</b> {@link #invalidate} and the cache's {@link MemoryMonitor} (memory
 *       unmapped, dropped or moved under a registration) remove every overlapping registration
 *       from the index at once; unused ones are deregistered, held ones when released, and their
 *       {@link Registration#isValid()} turns false.
 * </ul>
 *
 * <p>Thread-safe. Hits and releases take no lock; misses, invalidation, trimming and closing
 * serialise on one lock, also held across the device call so that two threads missing on the
 * same buffer register it once. The monitor's events are applied without that lock (the reader
 * thread may not wait for anyone). Closing deregisters everything, held or not, and closes the
 * monitor; the device stays open (it belongs to the caller).
 *
 * <p><b>Never stale, from any thread.</b> Every acquire first asks the monitor's
 * {@link EventGate} whether events are pending that the index does not reflect yet, and if so
 * waits for (or, with the hooks, applies) them before looking up. With the hooks
 * ({@link org.memreg.monitor.HookMonitor}) that check is one acquire load of the sequence their
 * C handler increments before an unmap enters the kernel; the kernel's mmap lock orders that
 * unmap before any later mmap that returns the same address to another thread, so that thread's
 * load sees the increment and the old registration is invalidated before its lookup. A miss
 * checks again after registering: an event for its range that arrived meanwhile (before the
 * entry was in the index, where the event could not find it) sends it round again. Strict mode
 * ({@link MemoryMonitor#confirmsHits()}) additionally asks the kernel on each hit.
 */
public final class RegistrationCache implements AutoCloseable {
    /** Attempts at registering a range whose memory keeps changing meanwhile. */
    private static final int MAX_ATTEMPTS = 100;

    private final Device device;
    private final MemoryMonitor monitor;
    private final EventGate gate;
    /** Strict mode: the monitor confirms each hit with the kernel. */
    private final boolean confirmHits;
    private final long pageMask;
    private final boolean merge;
    /** False: the last release deregisters (see {@link RegistrationCacheBuilder#keepUnused}). */
    private final boolean keepUnused;
    private final LongSupplier clock;
    private final RegionIndex index = new RegionIndex();
    /** Out of the index but still held; concurrent so the event reader can scan it. */
    private final Set<Entry> retired = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    /** The cache's counters, in the process's counters file unless statsName is none. */
    private final CounterSet counters;
    private final Ledger ledger;
    private final EntryTally tally;
    private final Registrar registrar;
    private final EventInvalidations events;
    private volatile boolean closed;

    RegistrationCache(RegistrationCacheBuilder builder, MemoryMonitor monitor) {
        this.device = builder.device;
        this.monitor = monitor;
        this.gate = monitor.gate();
        this.confirmHits = monitor.confirmsHits();
        this.pageMask = builder.device.pageSize() - 1;
        this.merge = builder.merge;
        this.keepUnused = builder.keepUnused;
        this.clock = builder.clock;
        this.tally = new EntryTally(builder.censusIntervalNanos);
        String statsName = builder.statsName;
        boolean publish = statsName != null && !statsName.equals("none");
        this.counters = ProcessCounters.open(SetKind.CACHE, publish ? statsName : "cache", publish);
        this.ledger = new Ledger(counters);
        this.registrar = new Registrar(builder, monitor, ledger, index, () -> tally.census().inUseBytes());
        this.events = new EventInvalidations(index, retired, lock, this::finishRetire, ledger);
        try {
            monitor.start(events);
        } catch (RuntimeException | Error e) {
            counters.close(); // no cache, no set left in the file
            throw e;
        }
        counters.refreshWith(this::refreshCounters);
    }

    /** Starts configuring a cache over {@code device}. */
    public static RegistrationCacheBuilder builder(Device device) {
        return new RegistrationCacheBuilder(device);
    }

    /**
     * Returns a registration covering {@code [address, address + length)} rounded out to pages,
     * with at least {@code access}. Close it when the transfer is done.
     *
     * @throws IllegalArgumentException when length is not positive or the range overflows
     * @throws IllegalStateException when the cache is closed
     * @throws ResourceExhaustedException when it does not fit even after evicting every unused
     *     registration; the message names the bytes pinned, in use, and the limit
     * @throws DeviceException when the device refuses the range (for example
     *     {@link org.memreg.device.UnmappedMemoryException}); the cache is unchanged
     */
    public Registration acquire(long address, long length, Access access) {
        checkRange(address, length);
        awaitPendingEvents();
        long start = address & ~pageMask;
        long end = (address + length + pageMask) & ~pageMask;
        Registration hit = tryHit(start, end, access);
        return hit != null ? hit : miss(start, end, access);
    }

    /**
     * Waits until memory events already taken from the kernel (userfaultfd) or reported by the
     * hooks are applied: the thread that unmapped, and any thread that got the address after
     * it, must not find the old registration afterwards.
     */
    void awaitPendingEvents() {
        if (gate.isPending()) {
            gate.awaitDelivery();
        }
    }

    /**
     * {@link #acquire(long, long, Access)} for a native segment's range.
     *
     * @throws IllegalArgumentException when the segment is not native, or is read-only and
     *     {@code access} grants writing
     * @throws IllegalStateException when the segment's arena is closed (its memory may belong to
     *     someone else by now)
     */
    public Registration acquire(MemorySegment segment, Access access) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("only native (off-heap) memory can be registered: " + segment);
        }
        OpenArena.require(segment, "a registration");
        if (segment.isReadOnly() && (access.localWrite() || access.remoteWrite())) {
            throw new IllegalArgumentException("a read-only segment cannot be registered for writing (" + access
                    + "): " + segment);
        }
        return acquire(segment.address(), segment.byteSize(), access);
    }

    private Registration tryHit(long start, long end, Access access) {
        Entry entry = index.find(start, end, access);
        if (entry == null) {
            return null;
        }
        long before = entry.tryAcquire();
        if (before < 0) {
            return null;
        }
        if (confirmHits && !confirmed(entry)) {
            return null;
        }
        if (Entry.hits(before) + 1 >= Entry.HITS_DRAIN_AT) { // once per 2^36 hits on one entry
            tally.drain(entry, Entry.HITS_DRAIN_AT);
        }
        return new Registration(this, entry);
    }

    /**
     * Strict mode, holding a reference: the kernel vouches for the entry's memory (waiting out an
     * event in delivery), and no event applied meanwhile flagged it. Otherwise the reference is
     * dropped; memory the kernel disowns is invalidated as if an event had said so.
     */
    private boolean confirmed(Entry entry) {
        boolean vouched = monitor.confirmHit(entry.start);
        if (vouched && (entry.state() & Entry.INVALID) == 0) {
            return true;
        }
        if (!vouched) {
            events.onMemoryEvent(MemoryEventKind.STALE, entry.start, entry.end, System.nanoTime());
        }
        entry.drainHits(1); // not a hit after all
        release(entry);
        return false;
    }

    private Registration miss(long start, long end, Access access) {
        lock.lock();
        try {
            ensureOpen();
            events.apply();
            Registration cached = tryHit(start, end, access); // another thread may have registered it
            if (cached != null) {
                return cached;
            }
            ledger.misses.addOrdered(1);
            for (int attempt = 1; ; attempt++) {
                long mark = events.mark(); // before the range is watched
                Entry created = register(start, end, access);
                if (!changedWhileRegistering(created, mark)) {
                    return new Registration(this, created);
                }
                release(created);
                if (attempt == MAX_ATTEMPTS) {
                    throw new DeviceException(String.format(
                            "memory 0x%x..0x%x kept changing while it was being registered", start, end));
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private Entry register(long start, long end, Access access) {
        List<Entry> overlapping = confirmHits ? confirmedOverlapping(start, end) : index.overlapping(start, end);
        long regStart = start;
        long regEnd = end;
        Access regAccess = access;
        if (merge) {
            for (Entry entry : overlapping) {
                regStart = Math.min(regStart, entry.start);
                regEnd = Math.max(regEnd, entry.end);
                regAccess = regAccess.with(entry.access);
            }
        } else {
            overlapping.removeIf(entry -> sharesEdgePage(entry, start, end));
        }
        Entry created = registrar.register(regStart, regEnd - regStart, regAccess, overlapping, clock.getAsLong());
        tally.track(created, registrar.liveEntries());
        for (Entry replaced : overlapping) {
            if ((replaced.state() & Entry.DEAD) == 0) { // not evicted while making room
                retire(replaced, 0);
                ledger.replaced.addOrdered(1);
            }
        }
        if (created.unwatched) { // no later acquire may trust it: retired from the start
            created.mark(Entry.RETIRED);
            retired.add(created);
        } else {
            index.add(created);
        }
        return created;
    }

    /**
     * Whether {@code entry}, without merging, stays beside a new registration of {@code [start, end)}
     * instead of being replaced: it shares only the first or the last page of the range and
     * reaches beyond it on that side. The chunks of a buffer that is not page-aligned share their
     * edge pages; replacing the neighbour made every chunk of every message a miss (each chunk's
     * registration replaced the one before). Neither range holds the other, so the index's entries
     * keep their order by end as by start ({@link RegionIndex}).
     */
    private boolean sharesEdgePage(Entry entry, long start, long end) {
        long page = pageMask + 1;
        return entry.start < start && entry.end == start + page && entry.end < end
                || entry.end > end && entry.start == end - page && entry.start > start;
    }

    /**
     * Strict mode, under the lock: the entries overlapping {@code [start, end)} that the kernel
     * still vouches for. A neighbour whose memory went (its event perhaps not read yet) must not be
     * merged into the new registration, which would then cover memory that is gone and fail; it is
     * invalidated as if its event had arrived.
     */
    private List<Entry> confirmedOverlapping(long start, long end) {
        for (Entry entry : index.overlapping(start, end)) {
            if (!monitor.confirmHit(entry.start)) {
                events.onMemoryEvent(MemoryEventKind.STALE, entry.start, entry.end, System.nanoTime());
            }
        }
        events.apply(); // also what confirmHit's wait for the reader delivered meanwhile
        return index.overlapping(start, end);
    }

    /**
     * An event for the new entry's range may have arrived after the range was watched but before
     * the entry was in the index, where the event's invalidation could not find it. Such an entry
     * is invalidated here (the caller retries).
     */
    private boolean changedWhileRegistering(Entry created, long mark) {
        if (gate == EventGate.NEVER) {
            return false;
        }
        gate.awaitDelivery();
        if (!events.changedSince(mark, created.start, created.end)) {
            return false;
        }
        retire(created, Entry.INVALID);
        ledger.invalidations.increment();
        return true;
    }

    /**
     * Takes an entry out of the index for good (replaced, invalidated): deregistered now if
     * unused, else by its last holder. Whichever of this and the last release comes second sees
     * the other's half and does the deregistration; {@link Entry#tryKill} lets exactly one do it.
     */
    private void retire(Entry entry, long extraFlags) {
        entry.mark(Entry.RETIRED | extraFlags);
        finishRetire(entry);
    }

    /** Under the lock: removes a flagged entry from the index, deregistering it if nobody holds it. */
    private void finishRetire(Entry entry) {
        index.remove(entry);
        long state = entry.state();
        if ((state & Entry.DEAD) != 0) {
            return;
        }
        if (Entry.holders(state) == 0 && entry.tryKill(false)) {
            retired.remove(entry);
            registrar.deregister(entry, (state & Entry.INVALID) != 0
                    ? DeregistrationCause.INVALIDATED : DeregistrationCause.REPLACED);
        } else {
            retired.add(entry);
        }
    }

    /**
     * Releases one holder; the last holder of a retired entry deregisters it (deferred), and so
     * does the last holder of any entry when the cache keeps nothing unused.
     */
    void release(Entry entry) {
        entry.stampUse(clock.getAsLong()); // before the count drops: eviction reads stamp, then count
        long state = entry.release();
        boolean retiredEntry = (state & Entry.RETIRED) != 0;
        if (Entry.holders(state) != 0 || (state & Entry.DEAD) != 0 || (keepUnused && !retiredEntry)) {
            return;
        }
        lock.lock();
        try {
            if (entry.tryKill(false)) { // fails when a hit took it meanwhile: its release comes here again
                index.remove(entry); // an event may have flagged it before it left the index
                retired.remove(entry);
                boolean deferred = retiredEntry && !entry.unwatched;
                registrar.deregister(entry, deferred ? DeregistrationCause.DEFERRED : DeregistrationCause.RELEASED);
                if (deferred) {
                    ledger.deferredDeregistrations.addOrdered(1);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Invalidates every registration overlapping {@code [address, address + length)}: none of them
     * can be returned by a later acquire; unused ones are deregistered now, held ones when their
     * last holder releases, and their {@link Registration#isValid()} is false from now on.
     *
     * @throws IllegalArgumentException when length is not positive or the range overflows
     * @throws IllegalStateException when the cache is closed
     */
    public void invalidate(long address, long length) {
        checkRange(address, length);
        awaitPendingEvents(); // the hooks have no thread of their own: apply what they reported
        long start = address & ~pageMask;
        long end = (address + length + pageMask) & ~pageMask;
        InvalidationEvent event = MemregEvents.invalidationBegin();
        long invalidated;
        lock.lock();
        try {
            ensureOpen();
            events.apply();
            invalidated = 0;
            for (Entry entry : index.overlapping(start, end)) {
                retire(entry, Entry.INVALID);
                invalidated++;
            }
            invalidated += EventInvalidations.invalidateRetired(retired, start, end);
            ledger.invalidations.add(invalidated);
        } finally {
            lock.unlock();
        }
        MemregEvents.invalidationEnd(event, start, end - start, "explicit", invalidated);
    }

    /**
     * Takes every registration over {@code [address, address + length)} out of the index (no new
     * holder can get one; unused ones are deregistered now) and waits up to {@code timeout} for
     * the holders of the others to release them, which deregisters them. For moving the pages
     * (NUMA migration): a range with no registration left can be moved, and the next acquire
     * registers the moved pages. Registrations still held at the timeout stay valid for their
     * holders; the range is then busy and should not be moved.
     *
     * @return how many registrations over the range are still held (0: the range is clear)
     * @throws IllegalArgumentException when length is not positive, the range overflows, or the
     *     timeout is negative
     * @throws IllegalStateException when the cache is closed
     */
    public int retireAndAwaitRelease(long address, long length, java.time.Duration timeout)
            throws InterruptedException {
        checkRange(address, length);
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative: " + timeout);
        }
        long start = address & ~pageMask;
        long end = (address + length + pageMask) & ~pageMask;
        List<Entry> held = new ArrayList<>();
        lock.lock();
        try {
            ensureOpen();
            events.apply();
            for (Entry entry : index.overlapping(start, end)) {
                retire(entry, 0);
                ledger.replaced.addOrdered(1);
            }
            for (Entry entry : retired) {
                if (entry.start < end && start < entry.end) {
                    held.add(entry);
                }
            }
        } finally {
            lock.unlock();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            held.removeIf(entry -> (entry.state() & Entry.DEAD) != 0);
            if (held.isEmpty() || System.nanoTime() - deadline >= 0) {
                return held.size();
            }
            Thread.sleep(1); // holders release on their own schedule; nothing to spin for
        }
    }

    /**
     * Deregisters unused registrations, least recently used first, until at least {@code bytes}
     * are given back or none is left. Held registrations are kept.
     *
     * @return the bytes deregistered
     * @throws IllegalArgumentException when bytes is negative
     */
    public long trim(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must not be negative: " + bytes);
        }
        awaitPendingEvents(); // the hooks have no thread of their own: apply what they reported
        lock.lock();
        try {
            if (closed) {
                return 0;
            }
            events.apply();
            return registrar.trim(bytes);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A snapshot of the counters and gauges, read from the cache's counter slots and summed over
     * its entries ({@link EntryTally}) without taking the miss lock: it never blocks a miss and
     * never waits for one. The sum over the entries is taken at most once per 50 µs for the whole
     * cache: a call sooner parks for the rest, so that a thread calling this in a loop cannot slow
     * the misses with the cache lines both touch (BENCHMARKS.md, issue 13); the snapshot is still
     * taken after the call began. Memory events the monitor has already taken from the
     * kernel are delivered first, as for {@link #acquire}: a thread that unmapped registered memory
     * (its munmap has returned) sees that invalidation counted and the entry no longer among
     * {@code entries}.
     */
    public CacheStats stats() {
        awaitPendingEvents(); // the hooks have no thread of their own: apply what they reported
        EntryTally.Census census = tally.census();
        return ledger.snapshot(census.hits(), census.entries(), census.retired(), census.inUseBytes());
    }

    /** The publisher thread's part: the slots of what is derived rather than counted. */
    private void refreshCounters() {
        EntryTally.Census census = tally.census();
        ledger.hits.setOrdered(census.hits());
        ledger.entries.setOrdered(census.entries());
        ledger.retiredEntries.setOrdered(census.retired());
        ledger.inUseBytes.setOrdered(census.inUseBytes());
        CacheCounters.writeMonitor(monitor.stats(), counters);
    }

    /** The device this cache registers with. */
    public Device device() {
        return device;
    }

    /** The monitor that tells this cache about memory changes ({@link MemoryMonitor#NONE} if none). */
    public MemoryMonitor monitor() {
        return monitor;
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Deregisters every registration, held or not (holders see {@link Registration#isValid()}
     * false and may still close theirs), and closes the monitor. Closing twice is harmless.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            monitor.close(); // no event can race the teardown below
            List<Entry> all = new ArrayList<>(index.entries());
            all.addAll(retired);
            index.clear();
            retired.clear();
            events.clear();
            registrar.clear();
            for (Entry entry : all) {
                if (entry.forceKill()) {
                    registrar.deregister(entry, DeregistrationCause.CLOSED);
                }
            }
        } finally {
            lock.unlock();
        }
        counters.close(); // outside the lock: closing takes the process counters' lock
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("registration cache is closed");
        }
    }

    private void checkRange(long address, long length) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive: " + length);
        }
        if (address < 0 || address > Long.MAX_VALUE - pageMask - length) {
            throw new IllegalArgumentException(String.format(
                    "range 0x%x + %d bytes overflows the address space", address, length));
        }
    }
}
