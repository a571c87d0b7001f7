package org.memreg.jmh;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.memreg.device.Access;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;
import org.memreg.transport.WindowKey;

/**
 * memreg's side of {@code bin/bench-transport}: the same operations as {@code ucx_perftest}
 * between two processes, timed with a plain loop (JMH does not drive two processes).
 *
 * <pre>
 * TransportBench server TEST SIZE ITERS WARMUP            prints port=N, serves one run, exits
 * TransportBench client HOST PORT TEST SIZE ITERS WARMUP  prints "result TEST SIZE ITERS VALUE UNIT"
 * </pre>
 *
 * TEST is {@code tag_lat} (ping-pong, half the round trip in µs, as ucx_perftest reports it),
 * {@code tag_bw} (a stream of tagged messages, {@value #WINDOW} in flight, MiB/s at the sender
 * until the receiver's acknowledgement), {@code put_bw} or {@code get_bw} (one-sided into a
 * window of SIZE bytes the server allocates, {@value #WINDOW} in flight, then a flush; MiB/s).
 * Warm-up runs the same loop WARMUP times first, untimed. Settings come from the
 * {@code memreg.transport.*} properties: {@code progressThread=false} (the caller progresses, as
 * ucx_perftest does) or true, {@code cache=false} to register every chunk. Bench switches:
 * {@code bench.park} (wait in {@code future.get()}, which drives the worker, rather than progress or spin),
 * {@code bench.callerProgress} (the caller progresses even with the progress thread on),
 * {@code bench.sendCopy} (tag_lat sends with {@code sendCopy}, without a future),
 * {@code bench.arena=confined} (buffers from a confined arena, which UCX gets copies of, instead of a shared one),
 * {@code bench.gapMicros} (idle time between tag_lat round trips), {@code bench.receiveBuffers}
 * (tag_bw receive buffers, default and at least {@value #WINDOW} for messages that may go by
 * rendezvous), {@code bench.median} (tag_lat also prints the
 * median, p99 and maximum, from an HdrHistogram), {@code bench.rampMillis} (tag_bw's client also
 * prints its bandwidth over windows of that many milliseconds, warm-up included, and the time to
 * 90 % of the steady state: {@link Ramp}).
 */
public final class TransportBench {
    static final int WINDOW = 8;
    /** A memreg rendezvous header's size: no message this small goes by rendezvous. */
    private static final long RENDEZVOUS_HEADER_BYTES = 32;
    private static final long DATA = 1, ACK = 3, KEY = 5, DONE = 9;

    /** Block in {@code future.get()} (true: the waiter drives the worker) instead of progressing or spinning on isDone. */
    private static final boolean PARK = Boolean.getBoolean("bench.park");
    /** tag_lat sends with {@code Endpoint.sendCopy} (no future) rather than {@code send} (bench.sendCopy). */
    private static final boolean SEND_COPY = Boolean.getBoolean("bench.sendCopy");
    /** True when the buffers come from a confined arena ({@code -Dbench.arena=confined}), not a shared one. */
    private static final boolean CONFINED = "confined".equals(System.getProperty("bench.arena", "shared"));
    /** tag_lat: idle time between timed round trips (bench.gapMicros), to let the peer's progress thread go idle. */
    private static final long GAP_NANOS = Long.getLong("bench.gapMicros", 0) * 1000;

    /** A round trip longer than this counts as a stall in the bench.median line. */
    private static final long STALL_NANOS = 100_000;
    /** bench.median=true: also print the median of tag_lat's timed round trips (the result stays the mean, as ucx_perftest's). */
    private static final Histogram ROUND_TRIPS = Boolean.getBoolean("bench.median") ? new Histogram(3) : null;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final Node node;
    private final boolean callerProgress;
    /** bench.rampMillis: tag_bw's bandwidth over time, on the client; null if not asked for. */
    private final Ramp ramp = rampOf(Long.getLong("bench.rampMillis", 0));

    private static Ramp rampOf(long windowMillis) {
        return windowMillis > 0 ? new Ramp(windowMillis) : null;
    }

    private TransportBench(Node node) {
        this.node = node;
        this.callerProgress = Boolean.getBoolean("bench.callerProgress")
                || !Boolean.parseBoolean(System.getProperty("memreg.transport.progressThread", "true"));
    }

    public static void main(String[] args) throws Exception {
        boolean server = args[0].equals("server");
        int at = server ? 1 : 3;
        String test = args[at];
        long size = Long.parseLong(args[at + 1]);
        int iters = Integer.parseInt(args[at + 2]);
        int warmup = Integer.parseInt(args[at + 3]);
        var builder = Node.builder().name(server ? "bench-server" : "bench-client");
        if (server) {
            builder.listen(new InetSocketAddress("127.0.0.1", 0));
        }
        try (Node node = builder.build(); Arena arena = CONFINED ? Arena.ofConfined() : Arena.ofShared()) {
            TransportBench bench = new TransportBench(node);
            if (server) {
                System.out.println("address=" + HexFormat.of().formatHex(node.workerAddress()));
                System.out.println("port=" + node.port());
                System.out.flush();
                bench.serve(arena, test, size, iters, warmup);
            } else {
                // HOST may be "address=HEX": connect by worker address (shared memory, as ucx_perftest does)
                Endpoint peer = args[1].startsWith("address=")
                        ? node.connect(HexFormat.of().parseHex(args[1].substring(8)))
                        : node.connect(args[1], Integer.parseInt(args[2]));
                double value = bench.run(arena, peer, test, size, iters, warmup);
                System.out.printf("result %s %d %d %.3f %s%n", test, size, iters, value,
                        test.equals("tag_lat") ? "us" : "MiB/s");
            }
        }
    }

    private <T> T await(CompletableFuture<T> future) throws Exception {
        if (PARK) {
            return future.get(); // blocks, driving the worker itself (the waiter progresses)
        }
        if (callerProgress) {
            while (!future.isDone()) {
                node.progress();
            }
        } else {
            while (!future.isDone()) {
                Thread.onSpinWait();
            }
        }
        return future.get();
    }

    /** tag_lat's send: with a future, or without one ({@code sendCopy}) under bench.sendCopy. */
    private void send(Endpoint peer, long tag, MemorySegment data) throws Exception {
        if (SEND_COPY) {
            peer.sendCopy(tag, data);
        } else {
            await(peer.send(tag, data));
        }
    }

    private static MemorySegment buffer(Arena arena, long size) {
        MemorySegment buffer = arena.allocate(size, 4096);
        buffer.fill((byte) 1); // resident
        return buffer;
    }

    // ---------------------------------------------------------------- server

    private void serve(Arena arena, String test, long size, int iters, int warmup) throws Exception {
        Endpoint peer = null;
        while (peer == null) {
            node.progress();
            peer = node.accepted();
        }
        MemorySegment small = buffer(arena, 8);
        switch (test) {
            case "tag_lat" -> {
                MemorySegment in = buffer(arena, size);
                for (int i = 0; i < warmup + iters; i++) {
                    await(node.receive(DATA, in));
                    send(peer, ACK, in);
                }
            }
            case "tag_bw" -> {
                // Distinct buffers per receive in flight: a rendezvous header lands at the start of the
                // receive buffer, so receives in flight must not share one (ucx_perftest reuses one).
                int count = Integer.getInteger("bench.receiveBuffers", WINDOW);
                if (count < WINDOW && size > RENDEZVOUS_HEADER_BYTES) { // the message may go by rendezvous
                    throw new IllegalArgumentException("bench.receiveBuffers=" + count + " for " + WINDOW
                            + " receives in flight: rendezvous headers would overwrite each other's data");
                }
                MemorySegment[] slots = new MemorySegment[count];
                for (int i = 0; i < count; i++) {
                    slots[i] = buffer(arena, size);
                }
                for (int phase : new int[] {warmup, iters}) {
                    ArrayDeque<CompletableFuture<Long>> posted = new ArrayDeque<>();
                    for (int i = 0; i < phase; i++) {
                        if (posted.size() == WINDOW) {
                            await(posted.removeFirst());
                        }
                        posted.addLast(node.receive(DATA, slots[i % count]));
                    }
                    for (CompletableFuture<Long> f : posted) {
                        await(f);
                    }
                    await(peer.send(ACK, small));
                }
            }
            case "put_bw", "get_bw" -> {
                try (Window window = node.allocateWindow(size, Access.ALL)) {
                    window.segment().fill((byte) 2);
                    byte[] key = window.key().toBytes();
                    MemorySegment bytes = buffer(arena, key.length);
                    bytes.copyFrom(MemorySegment.ofArray(key));
                    await(peer.send(KEY, bytes));
                    await(node.receive(DONE, small)); // progresses the target meanwhile, as ucx_perftest does
                }
            }
            default -> throw new IllegalArgumentException("unknown test " + test);
        }
    }

    // ---------------------------------------------------------------- client

    private double run(Arena arena, Endpoint peer, String test, long size, int iters, int warmup) throws Exception {
        MemorySegment small = buffer(arena, 8);
        MemorySegment data = buffer(arena, size);
        return switch (test) {
            case "tag_lat" -> {
                MemorySegment in = buffer(arena, size);
                pingPong(peer, data, in, warmup, 0);
                if (ROUND_TRIPS != null) {
                    ROUND_TRIPS.reset(); // only the timed round trips
                }
                long allocated = THREADS.getCurrentThreadAllocatedBytes();
                double mean = pingPong(peer, data, in, iters, GAP_NANOS) / 1e3 / iters / 2;
                System.out.printf("# tag_lat allocated %.1f bytes per round trip on the client's thread%n",
                        (double) (THREADS.getCurrentThreadAllocatedBytes() - allocated) / iters);
                if (ROUND_TRIPS != null) {
                    long stalls = 0;
                    long stalledNanos = 0;
                    for (var v : ROUND_TRIPS.recordedValues()) {
                        if (v.getValueIteratedTo() > STALL_NANOS) {
                            stalls += v.getCountAtValueIteratedTo();
                            stalledNanos += v.getCountAtValueIteratedTo() * v.getValueIteratedTo();
                        }
                    }
                    System.out.printf("# tag_lat half round trip: median %.3f us, p99 %.3f us, max %.1f us;"
                            + " %d round trips over %d us, %.1f ms in them%n",
                            ROUND_TRIPS.getValueAtPercentile(50) / 2e3, ROUND_TRIPS.getValueAtPercentile(99) / 2e3,
                            ROUND_TRIPS.getMaxValue() / 2e3, stalls, STALL_NANOS / 1000, stalledNanos / 1e6);
                }
                yield mean;
            }
            case "tag_bw" -> {
                stream(peer, data, small, warmup);
                long start = System.nanoTime();
                stream(peer, data, small, iters);
                double result = mibPerSecond(size * iters, System.nanoTime() - start);
                if (ramp != null) {
                    System.out.println(ramp.report());
                }
                yield result;
            }
            case "put_bw", "get_bw" -> {
                MemorySegment key = buffer(arena, 4096);
                long length = await(node.receive(KEY, key));
                RemoteWindow window = peer.attach(WindowKey.fromBytes(key.asSlice(0, length).toArray(JAVA_BYTE), 0,
                        (int) length));
                boolean put = test.equals("put_bw");
                rma(window, put, data, warmup);
                long start = System.nanoTime();
                rma(window, put, data, iters);
                double result = mibPerSecond(size * iters, System.nanoTime() - start);
                await(peer.send(DONE, small));
                yield result;
            }
            default -> throw new IllegalArgumentException("unknown test " + test);
        };
    }

    /** Round trips; returns the nanoseconds they took, without the gaps between them. */
    private long pingPong(Endpoint peer, MemorySegment out, MemorySegment in, int count, long gapNanos)
            throws Exception {
        long busy = 0;
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            if (gapNanos > 0) {
                busy += System.nanoTime() - start;
                LockSupport.parkNanos(gapNanos); // the peer goes idle
                start = System.nanoTime();
            }
            long t0 = ROUND_TRIPS != null ? System.nanoTime() : 0;
            CompletableFuture<Long> back = node.receive(ACK, in);
            send(peer, DATA, out);
            await(back);
            if (ROUND_TRIPS != null) {
                ROUND_TRIPS.recordValue(System.nanoTime() - t0);
            }
        }
        return busy + System.nanoTime() - start;
    }

    private void stream(Endpoint peer, MemorySegment data, MemorySegment small, int count) throws Exception {
        CompletableFuture<Long> ack = node.receive(ACK, small);
        ArrayDeque<CompletableFuture<Long>> inFlight = new ArrayDeque<>();
        for (int i = 0; i < count; i++) {
            if (inFlight.size() == WINDOW) {
                sent(await(inFlight.removeFirst()));
            }
            inFlight.addLast(peer.send(DATA, data));
        }
        for (CompletableFuture<Long> f : inFlight) {
            sent(await(f));
        }
        await(ack);
    }

    private void sent(long length) {
        if (ramp != null) {
            ramp.completed(length);
        }
    }

    private void rma(RemoteWindow window, boolean put, MemorySegment data, int count) throws Exception {
        ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        for (int i = 0; i < count; i++) {
            if (inFlight.size() == WINDOW) {
                await(inFlight.removeFirst());
            }
            inFlight.addLast(put ? window.put(0, data) : window.get(0, data));
        }
        for (CompletableFuture<Void> f : inFlight) {
            await(f);
        }
        await(window.flush());
    }

    private static double mibPerSecond(long bytes, long nanos) {
        return bytes / (double) (1 << 20) / (nanos / 1e9);
    }
}
