package org.memreg.cache;

import org.memreg.monitor.MonitorStats;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSource;
import org.memreg.stat.CountersFile;
import org.memreg.stat.RecordCounters;

/**
 * Writes a cache's {@link CacheStats} and its monitor's {@link MonitorStats} into its counters
 * file ({@link CounterId#cacheCounters()}) for {@code memreg stat}: each component into the
 * counter of its name, prefixed {@code monitor.} for the monitor's (a test keeps
 * {@link CounterId} in step with both records).
 */
final class CacheCounters implements CounterSource {
    private static final RecordCounters<CacheStats> CACHE = new RecordCounters<>(CacheStats.class, "");
    private static final RecordCounters<MonitorStats> MONITOR = new RecordCounters<>(MonitorStats.class, "monitor.");

    private final RegistrationCache cache;

    CacheCounters(RegistrationCache cache) {
        this.cache = cache;
    }

    @Override
    public void writeTo(CountersFile file) {
        CACHE.write(cache.stats(), file);
        MONITOR.write(cache.monitor().stats(), file);
    }
}
