package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * Messages that arrive before a receive asked for them. UCX kept each one, without limit, in
 * 9-12 KiB of its own receive buffers whatever the message's size: a peer that sent messages
 * nobody receives grew a node by some 700 MiB a second (242 MiB for the 20,000 of the first
 * test). Now the node holds them within {@code maxUnexpectedBytes} and drops the rest; what it
 * holds is received whole and in order.
 *
 * <p>The tests that send rendezvous messages close their arena before the nodes, with the nodes'
 * chunk registrations of its buffers still cached and watched. With the userfaultfd reader in Java
 * that hung the JVM in 2 of 4 runs: a thread madvised watched pages (glibc trimming its heap) and
 * slept until the reader read the event, while the reader, back from poll, waited for a safepoint
 * that could not begin without the sleeping thread ({@code UserfaultfdJvmSafetyTest}).
 */
@Unprivileged
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class UnexpectedMessagesTest {
    private static final long FLOOD_TAG = 0x77;

    @Test
    void aFloodNobodyReceivesShouldBeHeldWithinTheLimitAndTheRestDropped() throws Exception {
        UcxTestSupport.assumeUcx();
        int messages = 20_000;
        long size = 8192;
        try (Node node = loopback("flooded").maxUnexpectedBytes(1 << 20).listen(new InetSocketAddress("127.0.0.1", 0))
                .build(); RawUcxPeer peer = new RawUcxPeer();
             Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(size, 8);
            peer.send(node, FLOOD_TAG, message); // warm up: connection, code
            awaitEquals(size + UnexpectedMessages.OVERHEAD_BYTES, node::heldUnexpectedBytes, "the first message held");
            long rssBefore = rssBytes();
            for (int i = 1; i < messages; i++) {
                message.set(JAVA_LONG, 0, i);
                peer.send(node, FLOOD_TAG, message);
            }
            long perMessage = size + UnexpectedMessages.OVERHEAD_BYTES;
            long held = (1 << 20) / perMessage;
            awaitEquals(messages - held, node::droppedMessages, "every message held or dropped");
            long grown = rssBytes() - rssBefore;
            System.out.printf("%,d messages of %,d bytes: %,d held, %,d dropped; resident memory grew by %,d bytes%n",
                    messages, size, held, node.droppedMessages(), grown);
            assertEquals(held * perMessage, node.heldUnexpectedBytes(), "held up to the limit");
            assertTrue(grown < 64L << 20, "resident memory grew by " + grown + " bytes"); // 242 MiB in UCX before

            MemorySegment received = arena.allocate(size, 8);
            for (int i = 0; i < held; i++) { // the oldest are the ones held, in order
                assertEquals(size, node.receive(FLOOD_TAG, received).get(20, TimeUnit.SECONDS));
                assertEquals(i, received.get(JAVA_LONG, 0), "message " + i);
            }
            assertEquals(0, node.heldUnexpectedBytes());
            GoodPeer.assertServed(node);
        }
    }

    /**
     * A peer's messages under tags no memreg peer uses (top bytes outside memreg's kinds): UCX kept
     * each, 9-12 KiB of its buffers, for the node's life, and searched past all of them for every
     * receive. They must be dropped and counted, while the user messages between them are held
     * in order, and the node serve on.
     */
    @Test
    void messagesUnderTagsNoMemregPeerUsesShouldBeDroppedAndTheRestHeldInOrder() throws Exception {
        UcxTestSupport.assumeUcx();
        Random random = new Random(seed());
        int foreign = 20_000, user = 50;
        long size = 8192;
        try (Node node = loopback("flooded").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer peer = new RawUcxPeer(); Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(size, 8);
            peer.send(node, FLOOD_TAG, message); // warm up: connection, code
            awaitEquals(size + UnexpectedMessages.OVERHEAD_BYTES, node::heldUnexpectedBytes, "the first message held");
            MemorySegment first = arena.allocate(size, 8);
            assertEquals(size, node.receive(FLOOD_TAG, first).get(20, TimeUnit.SECONDS));
            long rssBefore = rssBytes();
            for (int i = 0; i < foreign + user; i++) {
                boolean isUser = i % (foreign / user + 1) == 0;
                message.set(JAVA_LONG, 0, i);
                peer.send(node, isUser ? FLOOD_TAG : foreignTag(random), message);
            }
            awaitEquals(foreign, node::droppedMessages, "every message under a foreign tag dropped");
            long grown = rssBytes() - rssBefore;
            System.out.printf("%,d messages under foreign tags: %,d dropped; resident memory grew by %,d bytes%n",
                    foreign, node.droppedMessages(), grown);
            assertTrue(grown < 64L << 20, "resident memory grew by " + grown + " bytes"); // 243 MiB in UCX before
            awaitEquals(user * (size + UnexpectedMessages.OVERHEAD_BYTES), node::heldUnexpectedBytes, "user messages held");
            MemorySegment received = arena.allocate(size, 8);
            long last = -1;
            for (int i = 0; i < user; i++) {
                assertEquals(size, node.receive(FLOOD_TAG, received).get(20, TimeUnit.SECONDS));
                assertTrue(received.get(JAVA_LONG, 0) > last, "user message " + i + " in order");
                last = received.get(JAVA_LONG, 0);
            }
            GoodPeer.assertServed(node);
        }
    }

    /**
     * The same for messages UCX moves by its rendezvous (30 KB): each is dropped without its data
     * being read, and UCX tells the sender, whose every send completes.
     */
    @Test
    void foreignMessagesByUcxsRendezvousShouldBeDroppedAndTheirSendsComplete() throws Exception {
        UcxTestSupport.assumeUcx();
        Random random = new Random(seed());
        int messages = 2_000;
        // the arena closes last: should the test fail, sends still in flight read it until the peer closes
        try (Arena arena = Arena.ofConfined(); Node node = loopback("flooded").listen(new InetSocketAddress("127.0.0.1", 0))
                .build(); RawUcxPeer peer = new RawUcxPeer()) {
            MemorySegment message = arena.allocate(30_000, 8);
            long rssBefore = rssBytes();
            for (int i = 0; i < messages; i++) {
                peer.sendAndGo(node, foreignTag(random), message); // each waits for the node's answer
            }
            awaitEquals(messages, () -> { // the peer progresses meanwhile: its sends go out as UCX has room
                peer.inFlight();
                return node.droppedMessages();
            }, "every message under a foreign tag dropped");
            awaitEquals(0, peer::inFlight, "the sends the node answered");
            long grown = rssBytes() - rssBefore;
            assertTrue(grown < 64L << 20, "resident memory grew by " + grown + " bytes");
            assertEquals(0, node.heldUnexpectedBytes());
            GoodPeer.assertServed(node);
        }
    }

    /**
     * A node that closes while a peer floods it: the messages that arrive during its last progress
     * rounds were left in UCX, which warned of each one as the worker went ("unexpected
     * tag-receive descriptor ... was not matched"), a line per message. None may be left.
     */
    @Test
    void aNodeClosedUnderAFloodShouldLeaveUcxNoMessageToWarnOf() throws Exception {
        assertClosesCleanUnderAFloodOf(64);
    }

    /**
     * The same with messages UCX moves by its rendezvous (30 KB): the node reads each it holds
     * from the sender's memory by a single-copy transfer (CMA) that UCX queues, and a worker
     * destroyed with some still queued aborted the JVM (UCX's assertion on the endpoint's
     * arbiter; 3 runs of 3 before the close waited for them).
     */
    @Test
    void aNodeClosedUnderAFloodOfRendezvousMessagesShouldNeitherAbortNorWarn() throws Exception {
        assertClosesCleanUnderAFloodOf(30_000);
    }

    private static void assertClosesCleanUnderAFloodOf(int bytes) throws Exception {
        UcxTestSupport.assumeUcx();
        ChildJvm probe = ChildJvm.run(List.of(), ClosedUnderFloodProbe.class, "5", Integer.toString(bytes));
        assertEquals("true", probe.text("closed"));
        assertTrue(probe.value("sent") > 0);
        List<String> warned = probe.lines().stream().filter(l -> l.contains("was not matched")).toList();
        assertEquals(List.of(), warned, warned.size() + " messages left in UCX at close");
    }

    /** A tag whose top byte is none of memreg's kinds (0, 1, 0x80, 0xC0: {@link Tags}). */
    private static long foreignTag(Random random) {
        long top;
        do {
            top = random.nextInt(256);
        } while (top <= 1 || top == 0x80 || top == 0xC0);
        return top << 56 | random.nextLong() >>> 8;
    }

    @Test
    void messagesThatArriveBeforeTheirReceiveShouldArriveWholeAndInOrder() throws Exception {
        UcxTestSupport.assumeUcx();
        Random random = new Random(seed());
        long[] sizes = {1, 8, 100, 4096, 8193, 12_000, 16 * 1024, 64 * 1024, 1 << 20};
        // The arena is closed first, its buffers still registered and watched (see the class comment)
        try (Node receiver = loopback("receiver").build(); Node sender = loopback("sender").build();
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            Map<Long, List<MemorySegment>> sent = new HashMap<>();
            List<CompletableFuture<Long>> sends = new ArrayList<>();
            long expectedHeld = 0;
            for (int i = 0; i < 60; i++) {
                long tag = 1 + random.nextInt(3);
                long size = sizes[random.nextInt(sizes.length)];
                MemorySegment message = arena.allocate(size, 8);
                for (long b = 0; b < size; b++) {
                    message.set(JAVA_BYTE, b, (byte) random.nextInt());
                }
                sent.computeIfAbsent(tag, t -> new ArrayList<>()).add(message);
                sends.add(endpoint.send(tag, message));
                expectedHeld += (size <= 16 * 1024 ? size // eager, else a header and its one chunk (EarlyChunks)
                        : RendezvousSendOp.HEADER_BYTES + UnexpectedMessages.OVERHEAD_BYTES
                                + Math.max(size, UnexpectedMessages.UCX_HELD_BYTES)) + UnexpectedMessages.OVERHEAD_BYTES;
            }
            awaitEquals(expectedHeld, receiver::heldUnexpectedBytes, "every message (or its header and chunk) held");
            for (var entry : sent.entrySet()) { // receives posted now: each takes the oldest held under its tag
                for (MemorySegment message : entry.getValue()) {
                    MemorySegment into = arena.allocate(1 << 20, 8);
                    long got = receiver.receive(entry.getKey(), into).get(30, TimeUnit.SECONDS);
                    assertEquals(message.byteSize(), got, "tag " + entry.getKey());
                    assertEquals(-1, message.mismatch(into.asSlice(0, got)), "tag " + entry.getKey());
                }
            }
            for (CompletableFuture<Long> send : sends) {
                send.get(30, TimeUnit.SECONDS);
            }
            assertEquals(0, receiver.heldUnexpectedBytes());
            assertEquals(0, receiver.droppedMessages());
        }
    }

    @Test
    void receivesPostedWhileMessagesStreamInShouldTakeThemInOrder() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = seed();
        Random random = new Random(seed);
        int messages = 5_000;
        try (Arena arena = Arena.ofShared(); Node receiver = loopback("receiver").build();
             Node sender = loopback("sender").build()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            // some held, some still in UCX, some matched by a receive posted first: the order per tag holds
            CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                try (Arena own = Arena.ofConfined()) {
                    MemorySegment message = own.allocate(64, 8);
                    for (int i = 0; i < messages; i++) {
                        message.set(JAVA_LONG, 0, i);
                        endpoint.sendCopy(9, message);
                        if (i % 500 == 0) {
                            Thread.sleep(2);
                        }
                    }
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            MemorySegment into = arena.allocate(64, 8);
            long mostHeld = 0;
            for (int i = 0; i < messages; i++) {
                mostHeld = Math.max(mostHeld, receiver.heldUnexpectedBytes());
                if (random.nextInt(100) == 0) {
                    Thread.sleep(1 + random.nextInt(3)); // let messages pile up, held or in UCX
                }
                assertEquals(64, receiver.receive(9, into).get(20, TimeUnit.SECONDS));
                assertEquals(i, into.get(JAVA_LONG, 0), "message " + i + " (seed " + seed + ")");
            }
            sending.get(20, TimeUnit.SECONDS);
            System.out.println("at most " + mostHeld + " bytes held on the way");
            assertTrue(mostHeld > 0, "no message was held on the way: the test tested nothing");
            assertEquals(0, receiver.heldUnexpectedBytes());
        }
    }

    @Test
    void aHeldMessageLargerThanTheBufferShouldFailTheReceiveAsTruncated() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared(); Node receiver = loopback("receiver").build();
             Node sender = loopback("sender").build()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            MemorySegment message = arena.allocate(4096, 8);
            message.set(JAVA_LONG, 0, 41);
            endpoint.send(5, message).get(20, TimeUnit.SECONDS);
            message.set(JAVA_LONG, 0, 42);
            endpoint.send(5, message).get(20, TimeUnit.SECONDS);
            awaitEquals(2 * (4096 + UnexpectedMessages.OVERHEAD_BYTES), receiver::heldUnexpectedBytes, "both held");
            MemorySegment small = arena.allocate(100, 8);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> receiver.receive(5, small).get(20, TimeUnit.SECONDS));
            TransportException cause = assertInstanceOf(TransportException.class, e.getCause());
            assertTrue(cause.isTruncation(), cause.getMessage());
            MemorySegment whole = arena.allocate(4096, 8);
            assertEquals(4096, receiver.receive(5, whole).get(20, TimeUnit.SECONDS), "the next one still arrives");
            assertEquals(42, whole.get(JAVA_LONG, 0));
        }
    }

    @Test
    void overTheLimitARendezvousSendShouldFailAtOnceAndEagerMessagesBeDropped() throws Exception {
        UcxTestSupport.assumeUcx();
        long held = 8;
        long limit = held * (8192 + UnexpectedMessages.OVERHEAD_BYTES); // full with them: a header more is over
        try (Node receiver = loopback("receiver").maxUnexpectedBytes(limit).timeout(Duration.ofSeconds(60)).build();
             Node sender = loopback("sender").timeout(Duration.ofSeconds(60)).build();
             Arena arena = Arena.ofShared()) { // closed first, as above
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            MemorySegment eager = arena.allocate(8192, 8);
            for (int i = 0; i < 10; i++) {
                eager.set(JAVA_LONG, 0, i);
                endpoint.send(1, eager).get(20, TimeUnit.SECONDS);
            }
            awaitEquals(10 - held, receiver::droppedMessages, "the messages over the limit dropped");
            int operations = receiver.operations();

            MemorySegment large = arena.allocate(1 << 20, 8);
            long started = System.nanoTime();
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> endpoint.send(2, large).get(50, TimeUnit.SECONDS));
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            TransportException e = assertInstanceOf(TransportException.class, refused.getCause());
            System.out.println("refused after " + millis + " ms: " + e.getMessage());
            assertEquals(Ucp.ERR_EXCEEDS_LIMIT, e.status(), e.getMessage());
            assertTrue(e.getMessage().contains(NodeBuilder.MAX_UNEXPECTED_BYTES_PROP_NAME), e.getMessage());
            assertEquals(10 - held + 1, receiver.droppedMessages());
            // and the receiver drains the refused message's chunks (its sender sends the rest empty)
            awaitEquals(operations, receiver::operations, "the refused message drained");

            MemorySegment into = arena.allocate(1 << 20, 8);
            for (int i = 0; i < held; i++) {
                assertEquals(8192, receiver.receive(1, into).get(20, TimeUnit.SECONDS));
                assertEquals(i, into.get(JAVA_LONG, 0));
            }
            // the next one under its tag, received as usual, arrives intact
            large.fill((byte) 0x5a);
            assertArrivesIntact(endpoint, receiver, 2, large, into);
        }
    }

    @Test
    void answersNobodyAskedForShouldBeDropped() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Node node = loopback("answered").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer peer = new RawUcxPeer(); Arena arena = Arena.ofConfined()) {
            MemorySegment answer = arena.allocate(1024, 8);
            peer.send(node, Tags.REPLY | 1, answer);
            long rssBefore = rssBytes();
            for (int i = 0; i < 20_000; i++) {
                long type = (i % 3 == 0 ? Tags.REPLY : i % 3 == 1 ? Tags.REVOKE_ACK : Tags.DESCRIPTION);
                peer.send(node, type | i, answer);
            }
            node.progress(); // and the progress thread's rounds: the node takes them off UCX in its own time
            Thread.sleep(500);
            long grown = rssBytes() - rssBefore;
            System.out.printf("20,000 answers nobody asked for: resident memory grew by %,d bytes%n", grown);
            assertTrue(grown < 64L << 20, "resident memory grew by " + grown + " bytes");
            assertEquals(0, node.droppedMessages(), "answers are not counted");
            assertEquals(0, node.heldUnexpectedBytes());
            GoodPeer.assertServed(node);
        }
    }

    /** The test's seed, printed: {@code -Dmemreg.test.seed} repeats a run. */
    private static long seed() {
        return TestSeeds.seed("UnexpectedMessagesTest");
    }

    /**
     * Posts a receive under {@code tag} into {@code into} (as large as {@code message}), sends
     * {@code message} there, and checks it arrived whole and unchanged.
     */
    static void assertArrivesIntact(Endpoint endpoint, Node receiver, long tag, MemorySegment message,
            MemorySegment into) throws Exception {
        CompletableFuture<Long> received = receiver.receive(tag, into);
        endpoint.send(tag, message).get(30, TimeUnit.SECONDS);
        assertEquals(message.byteSize(), received.get(30, TimeUnit.SECONDS));
        assertEquals(-1, message.mismatch(into));
    }

    /** Waits up to 60 s for {@code actual} to read {@code expected}, and fails naming {@code what} if it does not. */
    static void awaitEquals(long expected, LongSupplier actual, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (actual.getAsLong() != expected) {
            assertTrue(System.nanoTime() < deadline, what + ": " + actual.getAsLong() + ", not " + expected);
            Thread.sleep(1);
        }
    }

    /** This process's resident memory (VmRSS). */
    static long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }
}
