package org.memreg.odp;

import java.util.concurrent.atomic.AtomicLong;

/** The growing counters behind {@link OdpStats}; readable from any thread. */
final class OdpCounters {
    final AtomicLong invalidationsSent = new AtomicLong();
    final AtomicLong invalidationsAcked = new AtomicLong();
    final AtomicLong faults = new AtomicLong();
    final AtomicLong pagesReclaimed = new AtomicLong();
    final AtomicLong pagesReestablished = new AtomicLong();
    final AtomicLong leaseExpiries = new AtomicLong();

    OdpStats snapshot() {
        return new OdpStats(invalidationsSent.get(), invalidationsAcked.get(), faults.get(), pagesReclaimed.get(),
                pagesReestablished.get(), leaseExpiries.get());
    }
}
