package org.memreg.transport;

import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link TimedOutReceiveTest}'s caller that waits for a receive in a try-with-resources whose
 * arena holds the buffer, gives up after a microsecond and so closes the arena, and only then has
 * the message sent: in a child JVM, since a message landing in the freed buffer may end the
 * process. {@code args}: rounds and message size. Prints how the sends and the given-up receives
 * ended ({@code sent=}, {@code refused=}, {@code dropped=}, {@code other=}) and {@code survived=true}.
 */
public final class TimedOutReceiveProbe {
    private TimedOutReceiveProbe() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int bytes = Integer.parseInt(args[1]);
        int sent = 0;
        int refused = 0;
        int dropped = 0;
        int other = 0;
        try (Node receiver = loopback("receiver").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = loopback("sender").build();
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = sender.connect("127.0.0.1", receiver.port());
            MemorySegment message = arena.allocate(bytes, 8).fill((byte) 0x5a);
            for (int round = 0; round < rounds; round++) {
                CompletableFuture<Long> received;
                try (Arena buffers = Arena.ofConfined()) {
                    received = receiver.receive(round, buffers.allocate(bytes, 8));
                    try {
                        received.get(1, TimeUnit.MICROSECONDS);
                    } catch (TimeoutException e) {
                        // the idiom: give up, and the arena closes with the receive still posted
                    }
                }
                try {
                    endpoint.send(round, message).get(20, TimeUnit.SECONDS);
                    sent++;
                } catch (ExecutionException e) {
                    refused++; // a rendezvous message: the receiver refuses it, having no buffer for it
                }
                try {
                    received.get(20, TimeUnit.SECONDS);
                    other++; // delivered into a closed arena: must not be
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TransportException) {
                        dropped++;
                    } else {
                        other++;
                    }
                }
            }
            GoodPeer.assertServed(receiver);
        }
        System.out.println("sent=" + sent);
        System.out.println("refused=" + refused);
        System.out.println("dropped=" + dropped);
        System.out.println("other=" + other);
        System.out.println("survived=true");
    }
}
