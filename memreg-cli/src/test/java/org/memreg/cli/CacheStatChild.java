package org.memreg.cli;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.memreg.cache.CacheStats;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.monitor.MonitorStats;
import org.memreg.stat.CounterId;
import org.memreg.stat.CountersFile;
import org.memreg.stat.ProcessCounters;

/**
 * A second process for {@link StatCommandTest} with a real cache publishing its counters: does
 * hits, misses, evictions, an invalidation and an unmap, then prints its own {@code stats()} the
 * way {@link StatChild} prints counters ({@code counter.<id>=<value>}), then {@code ready}.
 */
public final class CacheStatChild {
    private CacheStatChild() {
    }

    public static void main(String[] args) throws Exception {
        publishInto(args[0]);
        long page = 4096;
        long region = Mman.mapAnonymous(32 * page);
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(args[1]).maxEntries(4).build()) {
            for (int i = 0; i < 3; i++) {
                cache.acquire(region, page, Access.ALL).close(); // a miss, then hits
            }
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 6; i++) { // six buffers through four entries: evictions
                    cache.acquire(region + 2 * i * page, page, Access.ALL).close();
                }
            }
            cache.invalidate(region + 10 * page, page);
            cache.acquire(region + 20 * page, page, Access.ALL).close();
            Mman.munmap(region + 20 * page, page); // an event, with the userfaultfd monitor
            long[] values = settledValues(cache); // after the unmap's events are in
            ProcessCounters.publishNow(); // the derived values (hits, gauges, the monitor's) into the file now
            announceAndWait(args[0], args[1], CounterId.cacheCounters(), values); // what a cache's file holds
        } finally {
            Mman.munmap(region, 32 * page);
        }
    }

    /**
     * The cache's and its monitor's statistics ({@link #values}) once they stop changing (20 ms
     * apart, at most 2 s): with hooks and userfaultfd one unmap is delivered twice, the second
     * time by the reader thread a little later, and a delivery updates the monitor's counters one
     * after another (the count, then the maximum delivery time), so an earlier snapshot can differ
     * from what the file shows next. Each {@code stats()} also applies what the hooks reported.
     */
    static long[] settledValues(RegistrationCache cache) throws ReflectiveOperationException, InterruptedException {
        long[] values = values(cache.stats(), cache.monitor().stats());
        for (int i = 0; i < 100; i++) {
            Thread.sleep(20);
            long[] again = values(cache.stats(), cache.monitor().stats());
            if (Arrays.equals(again, values)) {
                break;
            }
            values = again;
        }
        return values;
    }

    /** Makes the caches this process starts publish into {@code dir}, every 10 ms. */
    static void publishInto(String dir) {
        System.setProperty(CountersFile.DIR_PROP_NAME, dir);
        System.setProperty("memreg.stat.intervalMillis", "10");
    }

    /**
     * Prints {@code pid=}, {@code path=} of the process's counters file in {@code dir}, a
     * {@code counter.cache.<id>=<value>} line for each of {@code counters} (values by ordinal), then
     * {@code ready}; returns when the parent closes this process's stdin.
     */
    static void announceAndWait(String dir, String name, Set<CounterId> counters, long[] values) throws IOException {
        long pid = ProcessHandle.current().pid();
        System.out.println("pid=" + pid);
        System.out.println("path=" + ProcessCounters.file().path());
        for (CounterId counter : counters) {
            System.out.println("counter.cache." + counter.id() + "=" + values[counter.ordinal()]);
        }
        System.out.println("ready");
        System.out.flush();
        while (System.in.read() >= 0) {
            // Wait for the parent to close our stdin.
        }
    }

    /**
     * The cache's and monitor's statistics by {@link CounterId} ordinal, each component matched to
     * its counter by label (the monitor's prefixed {@code monitor.}), not by position: a set's
     * counters are laid out in their own order (the miss path's together).
     */
    static long[] values(CacheStats cache, MonitorStats monitor) throws ReflectiveOperationException {
        Map<String, CounterId> byLabel = new HashMap<>();
        for (CounterId id : CounterId.values()) {
            byLabel.put(id.label(), id);
        }
        long[] values = new long[CounterId.values().length];
        for (Record stats : new Record[] {cache, monitor}) {
            String prefix = stats == monitor ? "monitor." : "";
            for (RecordComponent component : stats.getClass().getRecordComponents()) {
                CounterId id = byLabel.get(prefix + component.getName());
                if (id == null) {
                    throw new IllegalStateException("no counter for " + prefix + component.getName());
                }
                values[id.ordinal()] = (Long) component.getAccessor().invoke(stats);
            }
        }
        return values;
    }
}
