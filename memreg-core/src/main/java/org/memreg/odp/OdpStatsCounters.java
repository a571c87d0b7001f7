package org.memreg.odp;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.RecordComponent;
import java.util.function.Supplier;
import org.memreg.config.Settings;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSource;
import org.memreg.stat.CountersFile;
import org.memreg.stat.StatsPublisher;

/**
 * Writes an ODP page table's {@link OdpStats} into its counters file
 * ({@link CounterId#odpCounters()}) for {@code memreg stat}: each component into the counter
 * labelled {@code odp.} and its name (a test keeps {@link CounterId} in step with the record).
 */
final class OdpStatsCounters implements CounterSource {
    private static final RecordComponent[] COMPONENTS = OdpStats.class.getRecordComponents();
    private static final MethodHandle[] ACCESSORS = new MethodHandle[COMPONENTS.length];
    private static final CounterId[] COUNTERS = new CounterId[COMPONENTS.length];

    static {
        try {
            for (int i = 0; i < COMPONENTS.length; i++) {
                ACCESSORS[i] = MethodHandles.publicLookup().unreflect(COMPONENTS[i].getAccessor());
                COUNTERS[i] = counter("odp." + COMPONENTS[i].getName());
            }
        } catch (IllegalAccessException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

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
        OdpStats now = stats.get();
        try {
            for (int i = 0; i < ACCESSORS.length; i++) {
                file.set(COUNTERS[i], (long) ACCESSORS[i].invoke(now));
            }
        } catch (Throwable e) {
            throw new IllegalStateException("reading ODP statistics", e);
        }
    }

    private static CounterId counter(String label) {
        for (CounterId counter : CounterId.odpCounters()) {
            if (counter.label().equals(label)) {
                return counter;
            }
        }
        throw new ExceptionInInitializerError("no CounterId labelled " + label);
    }
}
