package org.memreg.cli;

import java.util.Set;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.stat.ProcessCounters;

/**
 * A second process for {@link StatCommandTest}: a cache holding two overlapping registrations,
 * pages [0, 8) and then [4, 12) (merged into [0, 12) while the first stays held), so that its
 * registered bytes (20 pages) exceed its pinned bytes (12 distinct pages). Prints {@code pid=},
 * {@code path=} and {@code ready} like {@link StatChild}, and holds both until its stdin closes.
 */
public final class OverlapCacheChild {
    private OverlapCacheChild() {
    }

    public static void main(String[] args) throws Exception {
        CacheStatChild.publishInto(args[0]);
        long page = 4096;
        long region = Mman.mapAnonymous(12 * page);
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(args[1]).monitor(MemoryMonitor.NONE)
                     .build();
             Registration first = cache.acquire(region, 8 * page, Access.ALL);
             Registration union = cache.acquire(region + 4 * page, 8 * page, Access.ALL)) {
            ProcessCounters.publishNow(); // the gauges into the file now
            CacheStatChild.announceAndWait(args[0], args[1], Set.of(), new long[0]);
        } finally {
            Mman.munmap(region, 12 * page);
        }
    }
}
