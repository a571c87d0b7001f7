package org.memreg.odp;

import org.memreg.stat.Counter;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSet;
import org.memreg.stat.SetKind;

/**
 * The growing counters behind {@link OdpStats}: slots of a region's or mapping's {@link CounterSet}
 * (in the process's counters file when published), counted atomically where the events happen;
 * {@link #snapshot()} reads them, from any thread, without a lock.
 */
final class OdpCounters {
    final Counter invalidationsSent;
    final Counter invalidationsAcked;
    final Counter faults;
    final Counter pagesReclaimed;
    final Counter pagesReestablished;
    final Counter leaseExpiries;
    final Counter peersGone;

    OdpCounters(CounterSet set) {
        invalidationsSent = set.counter(CounterId.ODP_INVALIDATIONS_SENT);
        invalidationsAcked = set.counter(CounterId.ODP_INVALIDATIONS_ACKED);
        faults = set.counter(CounterId.ODP_FAULTS);
        pagesReclaimed = set.counter(CounterId.ODP_PAGES_RECLAIMED);
        pagesReestablished = set.counter(CounterId.ODP_PAGES_REESTABLISHED);
        leaseExpiries = set.counter(CounterId.ODP_LEASE_EXPIRIES);
        peersGone = set.counter(CounterId.ODP_PEERS_GONE);
    }

    /** Counters in ordinary memory, for a table no region or mapping publishes (tests, simulations). */
    static OdpCounters inMemory(SetKind kind) {
        return new OdpCounters(CounterSet.inMemory(kind, kind.label()));
    }

    OdpStats snapshot() {
        return new OdpStats(invalidationsSent.get(), invalidationsAcked.get(), faults.get(), pagesReclaimed.get(),
                pagesReestablished.get(), leaseExpiries.get(), peersGone.get());
    }
}
