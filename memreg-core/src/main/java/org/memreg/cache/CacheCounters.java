package org.memreg.cache;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.RecordComponent;
import org.memreg.monitor.MonitorStats;
import org.memreg.stat.CounterId;
import org.memreg.stat.CounterSource;
import org.memreg.stat.CountersFile;

/**
 * Writes a cache's {@link CacheStats} and its monitor's {@link MonitorStats} into its counters
 * file ({@link CounterId#cacheCounters()}) for {@code memreg stat}. {@link CounterId} begins with
 * exactly their components, in order, so the values are read component by component (a test
 * keeps the two in step).
 */
final class CacheCounters implements CounterSource {
    private static final MethodHandle[] CACHE = accessors(CacheStats.class);
    private static final MethodHandle[] MONITOR = accessors(MonitorStats.class);

    private final RegistrationCache cache;
    private final long[] values = new long[CounterId.count()];

    CacheCounters(RegistrationCache cache) {
        this.cache = cache;
    }

    @Override
    public void writeTo(CountersFile file) {
        CacheStats stats = cache.stats();
        MonitorStats monitor = cache.monitor().stats();
        try {
            for (int i = 0; i < CACHE.length; i++) {
                values[i] = (long) CACHE[i].invoke(stats);
            }
            for (int i = 0; i < MONITOR.length; i++) {
                values[CACHE.length + i] = (long) MONITOR[i].invoke(monitor);
            }
        } catch (Throwable e) {
            throw new IllegalStateException("reading statistics", e);
        }
        file.publish(values);
    }

    private static MethodHandle[] accessors(Class<? extends Record> type) {
        RecordComponent[] components = type.getRecordComponents();
        MethodHandle[] handles = new MethodHandle[components.length];
        try {
            for (int i = 0; i < components.length; i++) {
                handles[i] = MethodHandles.publicLookup().unreflect(components[i].getAccessor());
            }
        } catch (IllegalAccessException e) {
            throw new ExceptionInInitializerError(e);
        }
        return handles;
    }
}
