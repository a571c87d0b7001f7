package org.memreg.odp;

import org.memreg.config.Settings;
import org.memreg.stat.CounterSet;
import org.memreg.stat.ProcessCounters;
import org.memreg.stat.SetKind;

/**
 * Opens an ODP region's or mapping's {@link CounterSet}: in the process's counters file for
 * {@code memreg stat}, or in ordinary memory when {@value OdpRegion#STATS_PROP_NAME} is false.
 */
final class OdpStatsCounters {
    private OdpStatsCounters() {
    }

    /** The set for {@code name}; close it when the region or mapping closes. */
    static CounterSet open(SetKind kind, String name) {
        return ProcessCounters.open(kind, name, Settings.bool(OdpRegion.STATS_PROP_NAME, OdpRegion.STATS_DEFAULT));
    }

    /**
     * Reads the settings {@link #open} will read, so that a bad value fails a region or mapping
     * before it has taken memory or a window.
     *
     * @throws IllegalArgumentException when {@value OdpRegion#STATS_PROP_NAME} or the publishing
     *     interval is not valid
     */
    static void checkSettings() {
        Settings.bool(OdpRegion.STATS_PROP_NAME, OdpRegion.STATS_DEFAULT);
        ProcessCounters.intervalMillis();
    }
}
