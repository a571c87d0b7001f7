package org.memreg.cli;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
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
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;

/**
 * A process for {@link StatCommandTest} with the three things that count into its one counters
 * file, all real: a cache, an ODP region, and a peer's mapping of that region (owner and peer as
 * two loopback nodes in this JVM). It hits the cache, faults every page of the mapping in, has
 * the owner reclaim four pages and the peer fault one back, then prints its own {@code stats()}
 * ({@code counter.<set kind>.<id>=<value>}) and {@code ready}, and waits for stdin to close.
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
                Node owner = node(false); Node peer = node(true);
                OdpRegion region = OdpRegion.builder(owner, REGION, PAGES * 4096L).build();
                OdpMapping mapping = attach(owner, region, peer); Arena arena = Arena.ofShared()) {
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
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (region.pendingReclaims() > 0) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reclaim not acknowledged: " + region.stats());
                }
                Thread.sleep(2);
            }
            mapping.get(2 * ps, page); // a reclaimed page faulted back: re-established
            long[] values = CacheStatChild.values(cache.stats(), cache.monitor().stats());
            ProcessCounters.publishNow(); // the derived values (hits, gauges) into the file now
            System.out.println("pid=" + ProcessHandle.current().pid());
            System.out.println("path=" + ProcessCounters.file().path());
            for (CounterId counter : CounterId.cacheCounters()) {
                System.out.println("counter.cache." + counter.id() + "=" + values[counter.ordinal()]);
            }
            print("odp-region", region.stats());
            print("odp-mapping", mapping.stats());
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) {
                // Wait for the parent to close our stdin.
            }
        }
    }

    private static void print(String kind, OdpStats stats) throws ReflectiveOperationException {
        for (CounterId counter : CounterId.odpCounters()) {
            String component = counter.label().substring("odp.".length());
            long value = (long) OdpStats.class.getMethod(component).invoke(stats);
            System.out.println("counter." + kind + "." + counter.id() + "=" + value);
        }
    }

    private static Node node(boolean listen) {
        var builder = Node.builder().ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER);
        if (listen) {
            builder.listen(new InetSocketAddress("127.0.0.1", 0));
        }
        return builder.build();
    }

    private static OdpMapping attach(Node owner, OdpRegion region, Node peer) throws IOException, InterruptedException {
        region.serve(owner.connect("127.0.0.1", peer.port()));
        Endpoint toOwner;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((toOwner = peer.accepted()) == null) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the owner did not connect");
            }
            Thread.sleep(1);
        }
        return OdpMapping.attach(peer, toOwner, REGION, Duration.ofSeconds(10));
    }
}
