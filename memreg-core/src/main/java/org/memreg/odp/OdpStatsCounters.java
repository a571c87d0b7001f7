package org.memreg.odp;

import java.util.function.Supplier;
import org.memreg.config.Settings;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSource;
import org.memreg.stat.CountersFile;
import org.memreg.stat.RecordCounters;
import org.memreg.stat.StatsPublisher;

/**
 * Writes an ODP page table's {@link OdpStats} into its counters file
 * ({@link CounterId#odpCounters()}) for {@code memreg stat}: each component into the counter
 * labelled {@code odp.} and its name (a test keeps {@link CounterId} in step with the record).
 */
final class OdpStatsCounters implements CounterSource {
    private static final RecordCounters<OdpStats> COUNTERS = new RecordCounters<>(OdpStats.class, "odp.");

    private final Supplier<OdpStats> stats;

    private OdpStatsCounters(Supplier<OdpStats> stats) {
        this.stats = stats;
    }

    /**
     * Publishes {@code stats} as {@code name} for {@code memreg stat}, or returns null when
     * {@value OdpRegion#STATS_PROP_NAME} is false.
     */
    static StatsPublisher start(String name, Supplier<OdpStats> stats) {
        if (!Settings.bool(OdpRegion.STATS_PROP_NAME, OdpRegion.STATS_DEFAULT)) {
            return null;
        }
        return StatsPublisher.start(name, CounterId.odpCounters(), new OdpStatsCounters(stats));
    }

    /**
     * Reads the settings {@link #start} will read, so that a bad value fails a region or mapping
     * before it has taken memory or a window.
     *
     * @throws IllegalArgumentException when {@value OdpRegion#STATS_PROP_NAME} or the publishing
     *     interval is not valid
     */
    static void checkSettings() {
        if (Settings.bool(OdpRegion.STATS_PROP_NAME, OdpRegion.STATS_DEFAULT)) {
            StatsPublisher.intervalMillis();
        }
    }

    @Override
    public void writeTo(CountersFile file) {
        COUNTERS.write(stats.get(), file);
    }
}
