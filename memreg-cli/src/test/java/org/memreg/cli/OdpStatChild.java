package org.memreg.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.odp.OdpMapping;
import org.memreg.odp.OdpRegion;
import org.memreg.odp.OdpStats;
import org.memreg.odp.PageRange;
import org.memreg.stat.CounterId;
import org.memreg.stat.ProcessCounters;
import org.memreg.testkit.OdpLoopback;
import org.memreg.transport.Node;

/**
 * A process for {@link StatCommandTest} with the three things that count into its one counters
 * file, all real: a cache, an ODP region, and a peer's mapping of that region (owner and peer as
 * two loopback nodes in this JVM, {@link OdpLoopback}). It hits the cache, faults every page of
 * the mapping in, has the owner reclaim four pages and the peer fault one back, then prints its
 * own {@code stats()} ({@code counter.<set kind>.<id>=<value>}), {@code ready}, and waits for
 * stdin to close ({@link CacheStatChild#announceAndWait}).
 */
public final class OdpStatChild {
    private static final int PAGES = 16;
    private static final int REGION = 0x76;

    private OdpStatChild() {
    }

    public static void main(String[] args) throws Exception {
        CacheStatChild.publishInto(args[0]);
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
                RegistrationCache cache = RegistrationCache.builder(nic).monitor(MemoryMonitor.NONE).statsName(args[1])
                        .build();
                Node owner = OdpLoopback.node("odp-owner", false); Node peer = OdpLoopback.node("odp-peer", true);
                OdpRegion region = OdpRegion.builder(owner, REGION, PAGES * 4096L).build();
                OdpMapping mapping = OdpLoopback.attach(owner, region, REGION, peer); Arena arena = Arena.ofShared()) {
            long ps = region.pageSize();
            MemorySegment buffer = arena.allocate(4 * ps, ps);
            for (int i = 0; i < 3; i++) {
                cache.acquire(buffer.address(), ps, Access.ALL).close(); // a miss, then hits
            }
            MemorySegment page = buffer.asSlice(ps, ps);
            for (int p = 0; p < PAGES; p++) {
                mapping.put(p * ps, page); // faults every page in
            }
            region.reclaim(new PageRange(0, 4));
            OdpLoopback.awaitReclaims(region, Duration.ofSeconds(20));
            mapping.get(2 * ps, page); // a reclaimed page faulted back: re-established
            long[] values = CacheStatChild.values(cache.stats(), cache.monitor().stats());
            ProcessCounters.publishNow(); // the derived values (hits, gauges) into the file now
            print("odp-region", region.stats());
            print("odp-mapping", mapping.stats());
            CacheStatChild.announceAndWait(args[0], args[1], CounterId.cacheCounters(), values);
        }
    }

    private static void print(String kind, OdpStats stats) throws ReflectiveOperationException {
        for (CounterId counter : CounterId.odpCounters()) {
            String component = counter.label().substring("odp.".length());
            long value = (long) OdpStats.class.getMethod(component).invoke(stats);
            System.out.println("counter." + kind + "." + counter.id() + "=" + value);
        }
    }
}
