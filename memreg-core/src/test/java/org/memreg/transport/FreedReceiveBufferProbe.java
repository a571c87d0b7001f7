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
 * {@link FreedReceiveBufferTest}'s careless caller: it posts a receive into a buffer of a confined
 * arena, closes the arena with the receive still posted (after a wait that gave up after a
 * microsecond, or without any wait), and only then has the message sent: in a child JVM, since a
 * message landing in the freed buffer may end the process. {@code args}: rounds, buffer size,
 * message size, and {@code timed} or {@code unwaited}. Prints how the sends and the receives ended
 * ({@code sent=}, {@code refused=}, {@code dropped=}, {@code other=}) and {@code survived=true}.
 */
public final class FreedReceiveBufferProbe {
    private FreedReceiveBufferProbe() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        long bufferBytes = Long.parseLong(args[1]);
        long messageBytes = Long.parseLong(args[2]);
        boolean timed = args[3].equals("timed");
        int sent = 0;
        int refused = 0;
        int dropped = 0;
        int other = 0;
        try (Node receiver = loopback("receiver").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node sender = loopback("sender").build();
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = sender.connect("127.0.0.1", receiver.port());
            MemorySegment message = arena.allocate(messageBytes, 8).fill((byte) 0x5a);
            for (int round = 0; round < rounds; round++) {
                CompletableFuture<Long> received;
                try (Arena buffers = Arena.ofConfined()) {
                    received = receiver.receive(round, buffers.allocate(bufferBytes, 8));
                    if (timed) {
                        try {
                            received.get(1, TimeUnit.MICROSECONDS);
                        } catch (TimeoutException e) {
                            // the idiom: give up, and the arena closes with the receive still posted
                        }
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
