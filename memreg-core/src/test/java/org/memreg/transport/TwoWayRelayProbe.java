package org.memreg.transport;

import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * {@link TwoWayRelayTest}'s relay, in a child JVM (a deadlock there is killed, not waited for): two
 * nodes, each with its progress thread, each one's receive stage forwarding through an endpoint of
 * the other node, both ways at once, {@code args[0]} rounds. Prints {@code relayed=} (forwards that
 * went through), {@code refused=} (forwards that failed with the lock's {@link IllegalStateException}),
 * {@code other=} (anything else) and {@code served=true} once both nodes served a new peer.
 */
public final class TwoWayRelayProbe {
    private TwoWayRelayProbe() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int relayed = 0;
        int refused = 0;
        int other = 0;
        try (Node a = loopback("a").timeout(Duration.ofSeconds(1)).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node b = loopback("b").timeout(Duration.ofSeconds(1)).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Arena arena = Arena.ofShared()) {
            Endpoint aToB = a.connect("127.0.0.1", b.port());
            Endpoint bToA = b.connect("127.0.0.1", a.port());
            MemorySegment message = arena.allocate(8);
            for (int round = 0; round < rounds; round++) {
                CompletableFuture<Long> forwardedByA = a.receive(1, arena.allocate(8)).thenCompose(n -> bToA.send(3, message));
                CompletableFuture<Long> forwardedByB = b.receive(2, arena.allocate(8)).thenCompose(n -> aToB.send(4, message));
                CompletableFuture<Long> atA = a.receive(3, arena.allocate(8));
                CompletableFuture<Long> atB = b.receive(4, arena.allocate(8));
                bToA.send(1, message);
                aToB.send(2, message);
                for (CompletableFuture<Long> forward : java.util.List.of(forwardedByA, forwardedByB)) {
                    try {
                        forward.get(30, TimeUnit.SECONDS);
                        relayed++;
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof IllegalStateException refusal
                                && refusal.getMessage().contains("use an async stage")) {
                            refused++;
                        } else {
                            other++;
                            e.printStackTrace(System.out);
                        }
                    }
                }
                // what a refused forward did not send, its receive does not get: withdrawn
                for (CompletableFuture<Long> received : java.util.List.of(atA, atB)) {
                    if (!received.cancel(true)) {
                        received.get(30, TimeUnit.SECONDS);
                    }
                }
            }
            GoodPeer.assertServed(a);
            GoodPeer.assertServed(b);
        }
        System.out.println("relayed=" + relayed);
        System.out.println("refused=" + refused);
        System.out.println("other=" + other);
        System.out.println("served=true");
    }
}
