package org.memreg.jmh;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;
import org.memreg.transport.NodeBuilder;
import org.memreg.transport.TransportException;

/**
 * The soak of issue 11: a client with another error mode connects to a listening node again and
 * again, with every core kept busy, and after each refusal a good peer connects, sends a message
 * and closes. With UCX's sockaddr listener the first kind of client aborted the listening process
 * (exit 134) in most runs under load; a crash here ends the JVM, which {@code bin/soak-handshake}
 * reports. Run: {@code bin/soak-handshake [iterations] [busy threads]}.
 */
public final class HandshakeSoak {
    private HandshakeSoak() {
    }

    /** What a soak counted. */
    public record Result(int iterations, int refusedWithReason, int goodRoundTrips, double seconds) {
    }

    public static void main(String[] args) throws Exception {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int busy = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        Result r = run(iterations, busy, true);
        System.out.printf("result iterations=%d refused=%d good_round_trips=%d seconds=%.1f crashes=0%n",
                r.iterations(), r.refusedWithReason(), r.goodRoundTrips(), r.seconds());
        System.exit(r.refusedWithReason() == iterations && r.goodRoundTrips() == iterations ? 0 : 1);
    }

    private static NodeBuilder loopback(String name, ErrorMode mode) {
        return Node.builder().name(name).ucx("NET_DEVICES", "lo").errorMode(mode);
    }

    /** Runs {@code iterations} refusals and good round trips with {@code busy} spinning threads. */
    public static Result run(int iterations, int busy, boolean progress) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        for (int i = 0; i < busy; i++) {
            load.add(Thread.ofPlatform().daemon().start(() -> {
                long x = 0;
                while (!stop.get()) {
                    x += System.nanoTime() & 1; // a busy core
                }
                if (x == 42) {
                    System.out.print("");
                }
            }));
        }
        long start = System.nanoTime();
        int refused = 0;
        int good = 0;
        try (Node listener = loopback("listener", ErrorMode.PEER).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node other = loopback("other-mode", ErrorMode.NONE).build();
             Node peer = loopback("good-peer", ErrorMode.PEER).build();
             Arena arena = Arena.ofShared()) {
            MemorySegment out = arena.allocate(8, 8);
            MemorySegment in = arena.allocate(8, 8);
            for (int i = 0; i < iterations; i++) {
                try {
                    other.connect("127.0.0.1", listener.port()).close();
                } catch (TransportException e) {
                    if (e.getMessage().contains("error mode")) {
                        refused++;
                    }
                }
                Endpoint endpoint = peer.connect("127.0.0.1", listener.port());
                out.set(JAVA_LONG, 0, i);
                var got = listener.receive(7, in);
                endpoint.send(7, out).get(30, TimeUnit.SECONDS);
                if (got.get(30, TimeUnit.SECONDS) == 8 && in.get(JAVA_LONG, 0) == i) {
                    good++;
                }
                endpoint.close();
                if (progress && (i + 1) % 100 == 0) {
                    System.out.printf("%d/%d: %d refused with a reason, %d good round trips, listener %s%n", i + 1,
                            iterations, refused, good, listener.handshakeStats());
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : load) {
                t.join();
            }
        }
        return new Result(iterations, refused, good, (System.nanoTime() - start) / 1e9);
    }
}
