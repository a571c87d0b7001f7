package org.memreg.jmh.peers;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * memreg next to the transports JVM users pick today, between two JVMs on one host
 * ({@code bin/bench-jvm-peers}): the same protocol, sizes, depth and counts for each system.
 *
 * <pre>
 * PeerBench server SYSTEM TEST SIZE ITERS WARMUP        prints "ready INFO", serves one run, exits
 * PeerBench client SYSTEM INFO TEST SIZE ITERS WARMUP   prints "csv ROW" (see {@link Result#csv})
 * PeerBench smoke                                       every system and test in one JVM, tiny counts
 * </pre>
 *
 * SYSTEM: {@code memreg}, {@code memreg-put} ({@link PutLink}), {@code memreg-mapped} ({@link MappedLink}),
 * {@code aeron-ipc}, {@code aeron-udp},
 * {@code netty}. TEST: {@code lat}
 * (8-byte ping-pong: half round trip p50/p99 from an HdrHistogram; the echo is the ping's
 * checksum) or {@code bw} (WARMUP then ITERS messages of SIZE back to back, at most
 * {@value #DEPTH} in flight where the system has such a bound; the receiver checksums every byte
 * and answers each phase with the sum, which the sender compares with its own; MiB/s of the timed
 * phase until that answer) or {@code fresh} (as {@code bw}, but the sender writes every message
 * anew, each byte, before it sends it, as a sender that builds its messages does: into the memory
 * {@link Link#claim} gives it, one byte value per message, so that a message read before it was
 * written, or after it was overwritten, fails the checksum).
 */
public final class PeerBench {
    /** Operations in flight (memreg's futures; Aeron and TCP bound it by their logs and socket buffers). */
    static final int DEPTH = 8;
    static final String[] SYSTEMS = {"memreg", "memreg-put", "memreg-mapped", "aeron-ipc", "aeron-udp", "netty"};
    /**
     * The smoke run's cases: TEST, SIZE, ITERS, WARMUP. Fresh messages are many times as many as any
     * link's buffers, so that a sender that rewrote a buffer its receiver still reads would be seen.
     */
    static final String[][] SMOKE_CASES = {{"lat", "8", "200", "50"}, {"bw", "65536", "20", "5"},
            {"bw", "1048576", "20", "5"}, {"fresh", "65536", "300", "50"}};

    private PeerBench() {
    }

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1); // Aeron's and Netty's threads must not keep a failed run alive
        }
        System.exit(0); // nor a finished one
    }

    private static void run(String[] args) throws Exception {
        switch (args[0]) {
            case "server" -> server(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]), info -> {
                        System.out.println("ready " + info);
                        System.out.flush();
                    });
            case "client" -> {
                String system = args[1];
                String test = args[3];
                int size = Integer.parseInt(args[4]), iters = Integer.parseInt(args[5]), warmup = Integer.parseInt(args[6]);
                Result result = client(system, args[2], test, size, iters, warmup);
                System.out.println("csv " + result.csv(system, test, size, iters, warmup, copies(system, test, size)));
                if (!result.checksumsMatched()) {
                    System.exit(2);
                }
            }
            case "smoke" -> {
                for (String row : smoke()) {
                    System.out.println(row);
                }
            }
            default -> throw new IllegalArgumentException("server, client or smoke: " + args[0]);
        }
    }

    /** Every system and test in this JVM (server on a thread), tiny counts: the CSV rows. */
    static java.util.List<String> smoke() throws Exception {
        return smoke(SYSTEMS, SMOKE_CASES);
    }

    /** Each of {@code systems} with each of {@code cases} (TEST, SIZE, ITERS, WARMUP) in this JVM: the CSV rows. */
    static java.util.List<String> smoke(String[] systems, String[][] cases) throws Exception {
        java.util.List<String> rows = new java.util.ArrayList<>();
        int port = 24000 + (int) (ProcessHandle.current().pid() % 4000) * 2;
        for (String system : systems) {
            for (String[] smokeCase : cases) {
                String test = smokeCase[0];
                int size = Integer.parseInt(smokeCase[1]);
                int iters = Integer.parseInt(smokeCase[2]);
                int warmup = Integer.parseInt(smokeCase[3]);
                CompletableFuture<String> info = new CompletableFuture<>();
                int at = port += 2;
                CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
                    try {
                        server(system, test, size, iters, warmup, info::complete, at);
                    } catch (Throwable e) {
                        info.completeExceptionally(e);
                        throw new IllegalStateException(system + " server", e);
                    }
                }, r -> Thread.ofPlatform().daemon().start(r));
                Result result = client(system, info.get(60, TimeUnit.SECONDS), test, size, iters, warmup);
                served.get(60, TimeUnit.SECONDS);
                rows.add(result.csv(system, test, size, iters, warmup, copies(system, test, size)));
                System.err.println("smoke: " + rows.getLast());
            }
        }
        return rows;
    }

    private static void server(String system, String test, int size, int iters, int warmup, Consumer<String> announce)
            throws Exception {
        server(system, test, size, iters, warmup, announce, Integer.getInteger("bench.port", 40123));
    }

    private static void server(String system, String test, int size, int iters, int warmup, Consumer<String> announce,
            int port) throws Exception {
        boolean lat = test(test).equals("lat");
        if (system.equals("netty")) {
            NettyPeer.serve(lat, size, warmup, iters, announce);
            return;
        }
        try (Link link = switch (system) {
            case "memreg" -> MemregLink.server(8, size, announce);
            case "memreg-put" -> PutLink.server(size, announce);
            case "memreg-mapped" -> MappedLink.server(size, test, announce);
            case "aeron-ipc" -> AeronLink.server(false, port, 8, size, announce);
            case "aeron-udp" -> AeronLink.server(true, port, 8, size, announce);
            default -> throw new IllegalArgumentException("unknown system " + system);
        }) {
            if (lat) {
                for (int i = 0; i < warmup + iters; i++) {
                    long ping = link.receive();
                    link.drain();
                    link.out().putLong(ping);
                    link.send(8);
                }
            } else {
                for (int count : new int[] {warmup, iters}) {
                    long sum = 0;
                    for (int i = 0; i < count; i++) {
                        sum += link.receive();
                    }
                    link.drain();
                    link.out().putLong(sum);
                    link.send(8);
                }
            }
            link.drain();
            link.receive(); // the client's goodbye: it has every answer, the link may close
        }
    }

    private static Result client(String system, String info, String test, int size, int iters, int warmup)
            throws Exception {
        if (warmup < 1 || iters < 1) {
            throw new IllegalArgumentException("ITERS and WARMUP must be at least 1");
        }
        boolean lat = test(test).equals("lat"), fresh = test.equals("fresh");
        Result result = new Result();
        if (system.equals("netty")) {
            NettyPeer.run(info, lat, fresh, size, warmup, iters, result);
            return result;
        }
        try (Link link = switch (system) {
            case "memreg" -> MemregLink.client(info, size, 8);
            case "memreg-put" -> PutLink.client(info, size);
            case "memreg-mapped" -> MappedLink.client(info, size, test);
            case "aeron-ipc" -> AeronLink.client(false, info, size, size);
            case "aeron-udp" -> AeronLink.client(true, info, size, size);
            default -> throw new IllegalArgumentException("unknown system " + system);
        }) {
            long expected = link.out().fill(size, 42);
            if (lat) {
                Histogram halfTrips = new Histogram(3);
                for (int i = 0; i < warmup + iters; i++) {
                    long start = System.nanoTime();
                    link.send(8);
                    long echo = link.receive();
                    long took = System.nanoTime() - start;
                    result.check(echo == expected);
                    if (i >= warmup) {
                        halfTrips.recordValue(took / 2);
                    }
                    link.drain();
                }
                result.latency(halfTrips);
            } else {
                int written = 0;
                for (int count : new int[] {warmup, iters}) {
                    long start = System.nanoTime();
                    long sent = fresh ? 0 : expected * count;
                    for (int i = 0; i < count; i++) {
                        if (fresh) {
                            sent += writeFresh(link.claim(size), size, written++);
                        }
                        link.send(size);
                    }
                    long answer = link.receive();
                    long took = System.nanoTime() - start;
                    result.check(answer == sent);
                    result.throughput((long) size * count, took);
                    link.drain();
                }
            }
            link.send(8); // goodbye
            link.drain();
        }
        return result;
    }

    /** The test's shape: {@code fresh} runs as {@code bw}; an unknown name is refused. */
    private static String test(String test) {
        return switch (test) {
            case "lat", "bw" -> test;
            case "fresh" -> "bw";
            default -> throw new IllegalArgumentException("TEST is lat, bw or fresh: " + test);
        };
    }

    /**
     * Writes every byte of message number {@code n} into {@code memory}: {@code size} bytes of one
     * value, 1 to 255 in turn (never 0, which memory that was never written holds); their checksum.
     */
    static long writeFresh(MemorySegment memory, int size, long n) {
        byte value = (byte) (1 + n % 255);
        memory.asSlice(0, size).fill(value);
        return Checksum.ofFill(value, size);
    }

    /** "per message" or "per 8 messages". */
    private static String per(int count, String what) {
        return count == 1 ? "per " + what : "per " + count + " " + what + "s";
    }

    /** What each system copies per message, for the CSV (the receiver's checksum read is not a copy). */
    static String copies(String system, String test, int size) {
        return switch (system) {
            case "memreg" -> size <= 8192
                    ? "2: eager through UCX's shared-memory FIFO (the sender's in and the receiver's out)"
                    : "1: rendezvous, the kernel copies sender to receiver buffer (CMA) or UCX's sm copy";
            case "memreg-put" -> size <= 8
                    ? "2: a tagged message, as memreg's (puts carry only messages over 8 bytes)"
                    : "1: the put (the kernel copies sender to window, CMA, or UCX's sm copy) into the next of "
                            + OneSidedLink.ringSlots(size) + " slots; the receiver reads the window in place; a flush"
                            + " and a tagged notice " + per(OneSidedLink.batch(OneSidedLink.ringSlots(size)), "put");
            case "memreg-mapped" -> size <= 8
                    ? "0: each side writes into a window of its own, which the other maps and polls (Mailbox)"
                    : test.equals("fresh")
                    ? "0: the sender writes each message into the next of " + OneSidedLink.ringSlots(size) + " slots of"
                            + " a window of its own, which the receiver maps and reads in place; a tagged notice "
                            + per(OneSidedLink.batch(OneSidedLink.ringSlots(size)), "message") + ", credit back"
                    : "0: the send buffer is a window of the sender's, which the receiver maps and reads in place;"
                            + " a tagged notice per 8 messages, credit back (the sender never rewrites its buffer)";
            case "aeron-ipc" -> "1: offer copies into the shared log; the receiver reads it in place";
            case "aeron-udp" -> "3: offer into the log; the driver sends it (kernel copy) and receives it into a log (kernel copy)";
            case "netty" -> "2: write copies into the kernel's socket buffer, read copies into the receiver's buffer ("
                    + NettyPeer.transport() + ")";
            default -> "?";
        };
    }
}
