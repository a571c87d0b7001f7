package org.memreg.jmh;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.odp.OdpMapping;
import org.memreg.odp.OdpRegion;
import org.memreg.odp.PageRange;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;

/**
 * On-demand paging between two processes on this host (issue 6): the owner (this process) makes
 * an {@link OdpRegion} of PAGES pages and starts the peer (a child JVM running this class with
 * {@code peer}), which maps it.
 *
 * <pre>
 * OdpBench [PAGES [SECONDS [RATES [BACKING]]]]   defaults 4096 (16 MiB), 2 s, "0,10,100,1000", ucx_shared
 * </pre>
 *
 * BACKING is the region's {@link OdpRegion.WindowMemory} ({@code ucx_shared} or {@code anonymous}).
 *
 * Prints {@code result NAME VALUE UNIT} lines:
 * <ul>
 *   <li>{@code get_mapped}: 1-page get of a mapped page (no fault), median µs;
 *   <li>{@code fault_present}: 1-page get of a page the peer has no entry for but the owner
 *       holds: FAULT, ESTABLISHED, get; median µs (1000 pages, each faulted once);
 *   <li>{@code fault_reclaimed}: the same for a page the owner released: the owner populates and
 *       pins it first; median µs;
 *   <li>{@code put_bw_R}: MiB/s of 64 KiB puts (each flushed) streamed over the whole region
 *       for SECONDS while the owner reclaims R% of the region's pages per second (random 16-page
 *       runs, evenly spread in time); the peer faults pages back as it reaches them.
 * </ul>
 */
public final class OdpBench {
    private static final int REGION = 0x0DB;
    private static final long GO = 30, DONE = 31;

    private OdpBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("peer")) {
            peer();
            return;
        }
        int pages = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 2;
        double[] rates = Arrays.stream((args.length > 2 ? args[2] : "0,10,100,1000").split(","))
                .mapToDouble(Double::parseDouble).toArray();
        OdpRegion.WindowMemory memory = OdpRegion.WindowMemory.valueOf((args.length > 3 ? args[3] : "ucx_shared")
                .toUpperCase(java.util.Locale.ROOT));
        owner(pages, seconds, rates, memory);
    }

    private static Node node(boolean listen) {
        var b = Node.builder().name(listen ? "odp-bench-peer" : "odp-bench-owner").errorMode(ErrorMode.PEER);
        if (listen) {
            b.listen(new InetSocketAddress("127.0.0.1", 0));
        }
        return b.build();
    }

    private static void owner(int pages, double seconds, double[] rates, OdpRegion.WindowMemory memory)
            throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                OdpBench.class.getName(), "peer"));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (Node node = node(false); Arena arena = Arena.ofShared();
                OdpRegion region = OdpRegion.builder(node, REGION, pages * 4096L).windowMemory(memory).build()) {
            System.out.println("# region backing " + memory);
            CompletableFuture<Integer> port = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
                    for (String line; (line = r.readLine()) != null;) {
                        System.out.println(line.startsWith("port=") ? "# peer " + line : line);
                        if (line.startsWith("port=")) {
                            port.complete(Integer.parseInt(line.substring(5)));
                        }
                    }
                } catch (Exception ignored) {
                    // child gone
                }
            });
            Endpoint peer = node.connect("127.0.0.1", port.get(60, TimeUnit.SECONDS));
            region.serve(peer);
            MemorySegment msg = arena.allocate(16, 8);
            MemorySegment reply = arena.allocate(16, 8);
            // latency phases: the peer faults pages [0, 1000) (present), then [1000, 2000) after we release them
            send(peer, msg, pages, 0);
            await(node.receive(DONE, reply));
            region.reclaim(new PageRange(0, pages));
            while (region.pendingReclaims() > 0) {
                Thread.sleep(1);
            }
            send(peer, msg, 1, 0);
            await(node.receive(DONE, reply));
            SplittableRandom random = new SplittableRandom(42);
            for (double rate : rates) {
                long before = region.stats().pagesReclaimed();
                CompletableFuture<Long> done = node.receive(DONE, reply);
                send(peer, msg, 2, Double.doubleToRawLongBits(seconds));
                double runsPerSecond = rate / 100 * pages / 16;
                long start = System.nanoTime();
                long runs = 0;
                while (!done.isDone()) {
                    double elapsed = (System.nanoTime() - start) / 1e9;
                    if (runsPerSecond > 0 && runs < elapsed * runsPerSecond) {
                        region.reclaim(new PageRange(random.nextInt(pages - 16 + 1), 16));
                        runs++;
                    } else {
                        Thread.sleep(0, 200_000);
                    }
                }
                await(done);
                double took = (System.nanoTime() - start) / 1e9;
                System.out.printf("result put_bw_%s %.0f MiB/s (reclaim asked %.0f%% of pages/s; released %.0f pages/s)%n",
                        fmt(rate), reply.get(JAVA_DOUBLE, 0), rate,
                        (region.stats().pagesReclaimed() - before) / took);
            }
            send(peer, msg, 3, 0);
            System.out.println("# owner " + region.stats() + ", shared mapping " + region.isShared());
            child.waitFor(30, TimeUnit.SECONDS);
        } finally {
            child.toHandle().destroyForcibly();
        }
    }

    private static String fmt(double rate) {
        return rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate);
    }

    private static void send(Endpoint to, MemorySegment msg, long a, long b) throws Exception {
        msg.set(JAVA_LONG, 0, a);
        msg.set(JAVA_LONG, 8, b);
        to.send(GO, msg).get(30, TimeUnit.SECONDS);
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(120, TimeUnit.SECONDS);
    }

    private static void peer() throws Exception {
        try (Node node = node(true); Arena arena = Arena.ofShared()) {
            System.out.println("port=" + node.port());
            Endpoint owner;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((owner = node.accepted()) == null) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("owner did not connect");
                }
                Thread.sleep(1);
            }
            try (OdpMapping mapping = OdpMapping.attach(node, owner, REGION, Duration.ofSeconds(30))) {
                long pageSize = mapping.pageSize();
                int pages = mapping.pages();
                MemorySegment page = arena.allocate(pageSize, 4096);
                MemorySegment chunk = arena.allocate(16 * pageSize, 4096);
                chunk.fill((byte) 7);
                MemorySegment msg = arena.allocate(16, 8);
                MemorySegment out = arena.allocate(16, 8);
                int n = Math.min(1000, pages / 2);
                while (true) {
                    node.receive(GO, msg).get(300, TimeUnit.SECONDS);
                    long what = msg.get(JAVA_LONG, 0);
                    if (what == 3) {
                        break;
                    }
                    if (what == pages || what == 1) { // fault latency (what == pages: first phase)
                        boolean first = what == pages;
                        long[] faults = new long[n];
                        for (int i = 0; i < n; i++) {
                            long t = System.nanoTime();
                            mapping.get((first ? i : n + i) * pageSize, page);
                            faults[i] = System.nanoTime() - t;
                        }
                        report(first ? "fault_present" : "fault_reclaimed", faults);
                        if (first) {
                            long[] mapped = new long[n];
                            for (int i = 0; i < n; i++) {
                                long t = System.nanoTime();
                                mapping.get(i * pageSize, page);
                                mapped[i] = System.nanoTime() - t;
                            }
                            report("get_mapped", mapped);
                        }
                    } else {
                        double seconds = Double.longBitsToDouble(msg.get(JAVA_LONG, 8));
                        long end = System.nanoTime() + (long) (seconds * 1e9);
                        long start = System.nanoTime();
                        long bytes = 0;
                        int run = 0;
                        while (System.nanoTime() < end) {
                            mapping.put(run * 16 * pageSize, chunk);
                            bytes += chunk.byteSize();
                            run = (run + 1) % (pages / 16);
                        }
                        out.set(JAVA_DOUBLE, 0, bytes / 1048576.0 / ((System.nanoTime() - start) / 1e9));
                    }
                    owner.send(DONE, out).get(30, TimeUnit.SECONDS);
                }
                System.out.println("# peer " + mapping.stats());
            }
        }
    }

    private static void report(String name, long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        System.out.printf("result %s %.1f µs (p10 %.1f, p90 %.1f, n %d)%n", name, s[s.length / 2] / 1e3,
                s[s.length / 10] / 1e3, s[s.length * 9 / 10] / 1e3, s.length);
    }
}
