package org.memreg.cache;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.memreg.jfr.InvalidationEvent;
import org.memreg.jfr.MemregEvents;
import org.memreg.monitor.MemoryEventKind;
import org.memreg.monitor.MemoryEventListener;

/**
 * Applies the monitor's memory events to the cache from whichever thread delivers them: the
 * userfaultfd reader (which may never wait for anyone), a thread draining the hooks' ring, or a
 * strict-mode hit the kernel refused. Every registration over the range is marked invalid at once,
 * lock-free (no hit can take one any more), and the index clean-up is queued for whoever holds
 * the cache's lock next, or done now if the lock is free. The ranges also go into an
 * {@link EventLog} so a miss can tell that an event arrived while it was registering.
 */
final class EventInvalidations implements MemoryEventListener {
    private final RegionIndex index;
    private final Set<Entry> retired;
    private final ReentrantLock lock;
    /** Under the lock: removes a flagged entry from the index, deregistering it if unused. */
    private final Consumer<Entry> finishRetire;
    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();
    private final EventLog log = new EventLog();
    /** The cache's counters: invalidations (all causes and by events), the queue's size and its most. */
    private final Ledger ledger;

    EventInvalidations(RegionIndex index, Set<Entry> retired, ReentrantLock lock, Consumer<Entry> finishRetire,
                       Ledger ledger) {
        this.index = index;
        this.retired = retired;
        this.lock = lock;
        this.finishRetire = finishRetire;
        this.ledger = ledger;
    }

    @Override
    public void onMemoryEvent(MemoryEventKind kind, long start, long end, long takenNanos) {
        InvalidationEvent event = MemregEvents.invalidationBegin();
        log.append(start, end);
        long invalidated = 0;
        for (Entry entry : index.overlapping(start, end)) {
            if ((entry.mark(Entry.RETIRED | Entry.INVALID) & (Entry.INVALID | Entry.DEAD)) == 0) {
                invalidated++;
                ledger.queuedInvalidations.increment(); // before it is queued: apply() may take it at once
                queue.add(entry);
                ledger.maxQueuedInvalidations.proposeMax(ledger.queuedInvalidations.get());
            }
        }
        invalidated += invalidateRetired(retired, start, end);
        ledger.eventInvalidations.add(invalidated);
        ledger.invalidations.add(invalidated);
        MemregEvents.invalidationEnd(event, start, end - start, kind.name().toLowerCase(Locale.ROOT), invalidated);
        if (lock.tryLock()) {
            try {
                apply();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Marks held, retired registrations over the range invalid; returns how many were not yet. */
    static long invalidateRetired(Set<Entry> retired, long start, long end) {
        long invalidated = 0;
        for (Entry entry : retired) {
            if (entry.start < end && start < entry.end && (entry.mark(Entry.INVALID) & Entry.INVALID) == 0) {
                invalidated++;
            }
        }
        return invalidated;
    }

    /** Under the lock: moves the entries events invalidated out of the index. */
    void apply() {
        for (Entry entry; (entry = queue.poll()) != null; ) {
            ledger.queuedInvalidations.add(-1);
            finishRetire.accept(entry);
        }
    }

    /** The event log's position now: events after it are the ones a miss must check. */
    long mark() {
        return log.mark();
    }

    /** True when an event after {@code mark} covered part of {@code [start, end)} (or when unsure). */
    boolean changedSince(long mark, long start, long end) {
        return log.overlapsSince(mark, start, end);
    }

    /** Under the lock, at close: forgets what is queued. */
    void clear() {
        ledger.queuedInvalidations.add(-queue.size());
        queue.clear();
    }
}
