package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;
import static org.memreg.transport.UnexpectedMessagesTest.awaitEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * A rendezvous send succeeds only once its receiver has the whole message. UCX alone cannot say
 * so: a chunk under UCX's rendezvous threshold completes when it is sent, and UCX 1.13 completes a
 * rendezvous chunk the receiver truncates (a refused message's) as well as one received. So the
 * receiver tells the sender ({@code Tags.DELIVERED}), and a send completes on that.
 */
@Unprivileged
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RendezvousDeliveryTest {
    /** Chunks under UCX's rendezvous threshold: UCX completes their sends as soon as they are sent. */
    @Test
    void aSendShouldNotCompleteBeforeItsReceiveHasTheMessage() throws Exception {
        try (LoopbackPair pair = LoopbackPair.connect(b -> b.eagerBytes(1024).chunkBytes(4096))) {
            int length = 64 << 10;
            MemorySegment data = randomBytes(pair.arena().allocate(length, 4096), new Random(seed()));
            CompletableFuture<Long> sent = pair.endpoint().send(5, data);
            awaitEquals(length / 4096, pair.server()::takenEarlyChunks, "every chunk at the receiver");
            Thread.sleep(50); // a send completed by its chunks alone is done by now (the old code failed here)
            assertFalse(sent.isDone(), "the send completed before any receive was posted");

            MemorySegment buffer = pair.arena().allocate(length, 4096);
            CompletableFuture<Long> received = pair.server().receive(5, buffer);
            assertEquals(length, received.get(20, TimeUnit.SECONDS));
            assertEquals(length, sent.get(20, TimeUnit.SECONDS));
            assertEquals(-1, buffer.mismatch(data), "the message arrived intact");
        }
    }

    /**
     * Random messages, receives posted before or after their sends, some into buffers too small:
     * each send's outcome must agree with its receive's. Before, a send whose chunks UCX took at
     * once succeeded though its receive was refused: with 4 KiB chunks, and over TCP with the
     * default settings for messages of one chunk under UCX's TCP rendezvous threshold (20,553
     * bytes here).
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"4 KiB chunks", "TCP"})
    void aSendShouldSucceedExactlyWhenItsReceiveDoes(String setting) throws Exception {
        long seed = seed();
        Random random = new Random(seed);
        UnaryOperator<NodeBuilder> settings = setting.equals("TCP") ? b -> b.ucx("TLS", "tcp")
                : b -> b.eagerBytes(1024).chunkBytes(4096);
        try (LoopbackPair pair = LoopbackPair.connect(settings)) {
            MemorySegment data = randomBytes(pair.arena().allocate(256 << 10, 4096), random);
            int refused = 0;
            for (int batch = 0; batch < 25; batch++) {
                List<CompletableFuture<Long>> sends = new ArrayList<>();
                List<CompletableFuture<Long>> receives = new ArrayList<>();
                List<MemorySegment> buffers = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    long tag = batch * 8L + i;
                    int length = random.nextBoolean() ? (16 << 10) + 1 + random.nextInt(4 << 10) // one chunk
                            : (17 << 10) + random.nextInt(239 << 10);
                    boolean fits = random.nextInt(10) < 7;
                    MemorySegment buffer = pair.arena().allocate(fits ? length : 4096 + random.nextInt(length - 4096), 4096);
                    boolean receiveFirst = random.nextBoolean();
                    if (receiveFirst) {
                        receives.add(pair.server().receive(tag, buffer));
                    }
                    sends.add(pair.endpoint().send(tag, data.asSlice(0, length)));
                    if (!receiveFirst) {
                        receives.add(pair.server().receive(tag, buffer));
                    }
                    buffers.add(buffer);
                }
                for (int i = 0; i < 8; i++) {
                    String which = "message " + (batch * 8 + i) + " (seed " + seed + ")";
                    Long received = outcome(receives.get(i));
                    Long sent = outcome(sends.get(i));
                    assertEquals(received, sent, which + ": the send's outcome against the receive's");
                    if (received != null) {
                        assertEquals(-1, buffers.get(i).mismatch(data.asSlice(0, received)), which + " intact");
                    } else {
                        refused++;
                    }
                }
            }
            System.out.printf("200 messages, %d refused%n", refused);
            assertTrue(refused > 0, "no receive was refused: the test tested half");
        }
    }

    /**
     * A receive into fewer bytes than a rendezvous header fails as truncated without reading the
     * message's id, so it cannot refuse it: the send fails at its timeout (before, it succeeded once
     * the node let go of the chunks nobody claimed).
     */
    @Test
    void aSendWhoseHeaderWasTruncatedShouldFailAtItsTimeout() throws Exception {
        try (LoopbackPair pair = LoopbackPair.connect(b -> b.eagerBytes(1024).chunkBytes(4096)
                .timeout(Duration.ofSeconds(2)))) {
            CompletableFuture<Long> received = pair.server().receive(3, pair.arena().allocate(8, 8));
            CompletableFuture<Long> sent = pair.endpoint().send(3, pair.arena().allocate(64 << 10, 4096));
            assertNull(outcome(received), "the receive is truncated");
            ExecutionException e = assertThrows(ExecutionException.class, () -> sent.get(20, TimeUnit.SECONDS));
            TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
            assertEquals(Ucp.ERR_TIMED_OUT, cause.status(), cause.getMessage());
            assertTrue(cause.getMessage().contains("all sent, but the receiver never said it has them"),
                    cause.getMessage());
            awaitEquals(16L, pair.server()::droppedMessages, "its chunks let go of");
            GoodPeer.assertServed(pair.server());
        }
    }

    /**
     * A stranger who does not know a message's 56-bit id cannot end its send: forged deliveries
     * and refusals under random ids, and malformed ones, complete nothing, and the sends go on
     * to succeed when their receives come.
     */
    @Test
    void forgedDeliveriesAndRefusalsShouldEndNoSend() throws Exception {
        Random random = new Random(seed());
        try (LoopbackPair pair = LoopbackPair.connect(b -> b.eagerBytes(1024).chunkBytes(4096));
             RawUcxPeer hostile = new RawUcxPeer()) {
            Node sender = pair.client();
            int length = 64 << 10;
            MemorySegment data = pair.arena().allocate(length, 4096).fill((byte) 0x5a);
            List<CompletableFuture<Long>> sends = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                sends.add(pair.endpoint().send(i, data));
            }
            awaitEquals(8L * length / 4096, pair.server()::takenEarlyChunks, "every chunk at the receiver");
            MemorySegment mark = pair.arena().allocate(8, 8);
            CompletableFuture<Long> marked = sender.receive(99, mark);
            for (int i = 0; i < 2_000; i++) {
                long id = random.nextLong() & Tags.ID_MASK;
                switch (i % 5) {
                    case 0 -> hostile.send(sender, Tags.DELIVERED, id);
                    case 1 -> hostile.send(sender, Tags.REFUSE, id, random.nextInt(length));
                    case 2 -> hostile.send(sender, Tags.REFUSE, id, ReceiveOp.REFUSED_AS_HELD_TOO_MUCH);
                    case 3 -> hostile.send(sender, Tags.DELIVERED);
                    default -> hostile.send(sender, Tags.REFUSE, id);
                }
            }
            hostile.send(sender, 99, 1); // after the forgeries from the same peer: the node has read them all
            assertEquals(8, marked.get(20, TimeUnit.SECONDS));
            for (int i = 0; i < 8; i++) {
                assertFalse(sends.get(i).isDone(), "send " + i + " ended by a forgery");
            }
            for (int i = 0; i < 8; i++) {
                MemorySegment buffer = pair.arena().allocate(length, 4096);
                assertEquals(length, pair.server().receive(i, buffer).get(20, TimeUnit.SECONDS));
                assertEquals(length, sends.get(i).get(20, TimeUnit.SECONDS));
                assertEquals(-1, buffer.mismatch(data), "message " + i + " intact");
            }
        }
    }

    /**
     * A receiver that closes right after its receive: its delivery and its goodbye reach the
     * sender together (here the sender does not progress until both are there). The send was
     * delivered and must say so, though the endpoint is gone by the time it looks.
     */
    @Test
    void aDeliveredSendShouldSucceedThoughItsReceiverClosedRightAfter() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared(); Node sender = loopback("sender").progressThread(false).eagerBytes(1024)
                .chunkBytes(4096).build()) {
            MemorySegment data = arena.allocate(8192, 4096).fill((byte) 0x2b); // two chunks: posted at once
            CompletableFuture<Long> sent;
            try (Node receiver = loopback("receiver").build()) {
                Endpoint endpoint = sender.connect(receiver.workerAddress());
                MemorySegment buffer = arena.allocate(8192, 4096);
                CompletableFuture<Long> received = receiver.receive(1, buffer);
                sent = endpoint.send(1, data); // the sender's header and chunks go out in the call
                assertEquals(8192, received.get(20, TimeUnit.SECONDS));
                assertEquals(-1, buffer.mismatch(data));
            } // its goodbye goes out behind the delivery
            assertFalse(sent.isDone(), "the sender completed the send without progressing");
            assertEquals(8192, sent.get(20, TimeUnit.SECONDS), "a delivered send reported as failed");
        }
    }

    /** The byte count, or null for a receive or send refused as truncated; anything else fails. */
    private static Long outcome(CompletableFuture<Long> future) throws Exception {
        try {
            return future.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
            assertTrue(cause.isTruncation(), cause.getMessage());
            return null;
        }
    }

    private static MemorySegment randomBytes(MemorySegment segment, Random random) {
        for (long i = 0; i < segment.byteSize(); i++) {
            segment.set(JAVA_BYTE, i, (byte) random.nextInt());
        }
        return segment;
    }

    private static long seed() {
        return TestSeeds.seed("RendezvousDeliveryTest");
    }
}
