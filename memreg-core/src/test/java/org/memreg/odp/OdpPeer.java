package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;

/**
 * The peer process of the ODP two-process tests: listens on 127.0.0.1 (prints {@code port=N}),
 * takes the owner's connection (the owner connects, so that its node may use error mode PEER as
 * a client), maps region {@code args[1]}, and then, by {@code args[2]}:
 * <ul>
 *   <li>{@code stream}: for {@code args[3]} ms puts and gets random page runs (seed
 *       {@code args[4]}), keeping per page what it must hold: the stamp it last wrote, or 0 once
 *       the page was given up ({@link OdpMapping#onRelease}); every get is compared with that.
 *       Then it sends its results under tag 20 ({@link #RESULT_HEADER} longs: gets verified,
 *       mismatches, puts; then the stamp of every page) and keeps answering the owner until a
 *       message under tag 22 tells it to stop.
 *   <li>{@code stall}: maps every page, begins an operation on all of them and never ends it (an
 *       invalidation can then never be acknowledged), tells the owner under tag 20, and waits to
 *       be killed.
 * </ul>
 * A page with stamp {@code s} holds at long {@code i} (counted from the region's start) the
 * value {@code s + i}.
 */
public final class OdpPeer {
    static final int RESULT_HEADER = 3;

    private OdpPeer() {
    }

    public static void main(String[] args) throws Exception {
        int regionNumber = Integer.parseInt(args[1]);
        String mode = args[2];
        long millis = Long.parseLong(args[3]);
        long seed = Long.parseLong(args[4]);
        try (Node node = Node.builder().name("odp-peer").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER)
                .listen(new java.net.InetSocketAddress("127.0.0.1", 0)).build(); Arena arena = Arena.ofShared()) {
            System.out.println("port=" + node.port());
            Endpoint owner;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((owner = node.accepted()) == null) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the owner did not connect");
                }
                Thread.sleep(1);
            }
            try (OdpMapping mapping = OdpMapping.attach(node, owner, regionNumber, Duration.ofSeconds(30))) {
                System.out.println("attached pages=" + mapping.pages());
                if (mode.equals("stall")) {
                    stall(mapping, owner, arena);
                } else {
                    stream(node, mapping, owner, arena, millis, seed);
                }
            }
        }
        System.out.println("done");
    }

    private static void stall(OdpMapping mapping, Endpoint owner, Arena arena) throws Exception {
        long bytes = mapping.pages() * mapping.pageSize();
        mapping.get(0, arena.allocate(bytes, 4096));
        if (!mapping.table().tryBegin(new PageRange(0, mapping.pages()))) {
            throw new AssertionError("pages not mapped after a get of all of them");
        }
        owner.send(20, arena.allocate(8, 8)).get(30, TimeUnit.SECONDS);
        System.out.println("stalled");
        Thread.sleep(TimeUnit.SECONDS.toMillis(120));
    }

    private static void stream(Node node, OdpMapping mapping, Endpoint owner, Arena arena, long millis, long seed)
            throws Exception {
        int pages = mapping.pages();
        long pageSize = mapping.pageSize();
        long[] stamps = new long[pages];
        mapping.onRelease(range -> {
            synchronized (stamps) {
                for (int p = range.first(); p < range.end(); p++) {
                    stamps[p] = 0;
                }
            }
        });
        SplittableRandom random = new SplittableRandom(seed);
        MemorySegment buffer = arena.allocate(4 * pageSize, 4096);
        long verified = 0;
        long[] mismatches = {0};
        long puts = 0;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < end) {
            int count = 1 + random.nextInt(4);
            int first = random.nextInt(pages - count + 1);
            MemorySegment slice = buffer.asSlice(0, count * pageSize);
            long offset = first * pageSize;
            if (random.nextInt(10) < 6) {
                long stamp = random.nextLong() | 1;
                fill(slice, offset, stamp, pageSize);
                mapping.put(offset, slice, () -> {
                    synchronized (stamps) {
                        for (int p = first; p < first + count; p++) {
                            stamps[p] = stamp;
                        }
                    }
                });
                puts++;
            } else {
                slice.fill((byte) 0x5A);
                mapping.get(offset, slice, () -> {
                    synchronized (stamps) {
                        for (int p = first; p < first + count; p++) {
                            String bad = check(slice.asSlice((p - first) * pageSize, pageSize), p, stamps[p], pageSize);
                            if (bad != null) {
                                if (mismatches[0]++ < 5) {
                                    System.out.println("MISMATCH " + bad);
                                }
                            }
                        }
                    }
                });
                verified++;
            }
        }
        MemorySegment result = arena.allocate((RESULT_HEADER + pages) * 8L, 8);
        result.set(JAVA_LONG, 0, verified);
        result.set(JAVA_LONG, 8, mismatches[0]);
        result.set(JAVA_LONG, 16, puts);
        synchronized (stamps) {
            for (int p = 0; p < pages; p++) {
                result.set(JAVA_LONG, (RESULT_HEADER + p) * 8L, stamps[p]);
            }
        }
        System.out.printf("gets verified=%d mismatches=%d puts=%d faults=%d acks=%d%n", verified, mismatches[0], puts,
                mapping.stats().faults(), mapping.stats().invalidationsAcked());
        MemorySegment stop = arena.allocate(8, 8);
        var stopped = node.receive(22, stop);
        owner.send(20, result).get(30, TimeUnit.SECONDS);
        stopped.get(60, TimeUnit.SECONDS);
    }

    /** Fills {@code target}, which lands at region offset {@code offset}, with stamp {@code stamp}. */
    static void fill(MemorySegment target, long offset, long stamp, long pageSize) {
        long base = offset / 8;
        for (long i = 0; i < target.byteSize() / 8; i++) {
            target.set(JAVA_LONG, i * 8, stamp + base + i);
        }
    }

    /** Null when {@code page} (the bytes of region page {@code p}) holds stamp {@code stamp} (0: zeros), else why not. */
    static String check(MemorySegment page, int p, long stamp, long pageSize) {
        long base = p * pageSize / 8;
        for (long i = 0; i < pageSize / 8; i++) {
            long want = stamp == 0 ? 0 : stamp + base + i;
            long got = page.get(JAVA_LONG, i * 8);
            if (got != want) {
                return String.format("page %d long %d: want %x got %x (stamp %x)", p, i, want, got, stamp);
            }
        }
        return null;
    }
}
