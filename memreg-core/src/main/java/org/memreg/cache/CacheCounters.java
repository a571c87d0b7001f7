package org.memreg.cache;

import org.memreg.monitor.MonitorStats;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSet;

/**
 * Writes a cache's monitor's {@link MonitorStats} into the {@code monitor.} slots of the cache's
 * counter set: the monitor counts in its own structures, so the publisher thread copies them, one
 * component to the counter of its name (a test keeps {@link CounterId} in step with the record).
 */
final class CacheCounters {
    private CacheCounters() {
    }

    static void writeMonitor(MonitorStats stats, CounterSet set) {
        set.counter(CounterId.MONITOR_EVENTS).setOrdered(stats.events());
        set.counter(CounterId.MONITOR_UNMAP_EVENTS).setOrdered(stats.unmapEvents());
        set.counter(CounterId.MONITOR_REMOVE_EVENTS).setOrdered(stats.removeEvents());
        set.counter(CounterId.MONITOR_REMAP_EVENTS).setOrdered(stats.remapEvents());
        set.counter(CounterId.MONITOR_PAGE_FAULTS_ANSWERED).setOrdered(stats.pageFaultsAnswered());
        set.counter(CounterId.MONITOR_WATCHED_BYTES).setOrdered(stats.watchedBytes());
        set.counter(CounterId.MONITOR_WATCH_FAILURES).setOrdered(stats.watchFailures());
        set.counter(CounterId.MONITOR_DELIVERY_NANOS_TOTAL).setOrdered(stats.deliveryNanosTotal());
        set.counter(CounterId.MONITOR_DELIVERY_NANOS_MAX).setOrdered(stats.deliveryNanosMax());
        set.counter(CounterId.MONITOR_HOOK_EVENTS).setOrdered(stats.hookEvents());
        set.counter(CounterId.MONITOR_HOOK_OVERFLOWS).setOrdered(stats.hookOverflows());
        set.counter(CounterId.MONITOR_HOOK_FAILURES).setOrdered(stats.hookFailures());
        set.counter(CounterId.MONITOR_STRICT_REFUSALS).setOrdered(stats.strictRefusals());
        set.counter(CounterId.MONITOR_READER_OVERFLOWS).setOrdered(stats.readerOverflows());
        set.counter(CounterId.MONITOR_READER_FAILURES).setOrdered(stats.readerFailures());
    }
}
