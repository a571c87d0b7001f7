package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.device.Access;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * A confined arena cannot be held open against its owner (FFM lets no other thread into it), so
 * UCX never gets its memory past a call ({@link ConfinedMemory}): an owner that closes it under a
 * rendezvous receive or a get finds no byte written into the freed memory, and the operation fails
 * as having lost its buffer. Each operation is stopped half-way by pausing the peer, and the
 * memory is the test's own mapping seen through the arena, so that a write after the close shows
 * in the bytes instead of crashing the JVM. {@link ClosedWhileLentTest} has the send.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConfinedArenaTest {
    private static final long TAG = 13;
    private static final long BYTES = 4 << 20; // 1,024 chunks of 4 KiB, one at a time
    private ArenaMapping mapping;

    @BeforeEach
    void map() {
        UcxTestSupport.assumeUcx();
        mapping = new ArenaMapping(BYTES, Arena.ofConfined());
    }

    @AfterEach
    void unmap() {
        mapping.close();
    }

    /** Not a byte of the mapping was written: UCX never had it, and what came after the close was dropped. */
    private void assertUntouched() {
        assertEquals(-1, mapping.mapped().mismatch(MemorySegment.ofArray(new byte[(int) BYTES])),
                "bytes landed in the confined arena's memory");
    }

    private static void assertLostItsBuffer(CompletableFuture<?> operation) {
        Throwable failure = assertThrows(ExecutionException.class, () -> operation.get(30, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(TransportException.class, failure, String.valueOf(failure));
        assertTrue(failure.getMessage().contains("was gone"), failure.getMessage());
        assertInstanceOf(IllegalStateException.class, failure.getCause(), String.valueOf(failure.getCause()));
    }

    @Test
    void aConfinedArenaClosedUnderARendezvousReceiveShouldGetNoByteOfTheMessage() throws Exception {
        try (Node receiver = loopback("receiver").eagerBytes(1024).chunkBytes(4096).pipelineDepth(1)
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             PausableNode sender = new PausableNode(loopback("sender").eagerBytes(1024).chunkBytes(4096).pipelineDepth(1));
             Arena senders = Arena.ofShared()) {
            MemorySegment message = senders.allocate(BYTES, 4096).fill((byte) 0x5a);
            long taken = receiver.confinedPiecesTaken();
            CompletableFuture<Long> received = receiver.receive(TAG, mapping.buffer());
            CompletableFuture<Long> sent = sender.node.connect("127.0.0.1", receiver.port()).send(TAG, message);
            // the header matched and the chunks began: into the node's memory, or (wrongly) into the buffer
            ArenaMapping.await(() -> receiver.confinedPiecesTaken() > taken || mapping.mapped().get(JAVA_BYTE, 0) != 0, "the chunks");
            sender.pause();
            Thread.sleep(50); // the sender's round under way ends
            mapping.arena().close(); // its owner (this thread) may, at any moment: nothing can refuse it
            sender.resume();
            assertEquals(BYTES, sent.get(30, TimeUnit.SECONDS), "the message arrived whole at the node");
            assertLostItsBuffer(received);
            assertUntouched();
            GoodPeer.assertServed(receiver);
        }
    }

    /** A get over TCP from an owner that stopped progressing: UCX writes the answer whenever it comes. */
    @Test
    void aConfinedArenaClosedUnderAGetShouldGetNoByteOfTheAnswer() throws Exception {
        try (StalledGet stalled = new StalledGet(mapping.buffer())) {
            mapping.arena().close();
            stalled.resume();
            assertLostItsBuffer(stalled.get);
            assertUntouched();
        }
    }

    /** A confined arena's get, put and receive that nobody closes: every byte where it belongs. */
    @Test
    void confinedMemoryShouldMoveWhole() throws Exception {
        try (Node one = loopback("one").eagerBytes(1024).chunkBytes(64 << 10).listen(new InetSocketAddress("127.0.0.1", 0))
                     .build();
             Node two = loopback("two").eagerBytes(1024).chunkBytes(64 << 10).build()) {
            MemorySegment buffer = mapping.buffer();
            for (long i = 0; i < BYTES; i += 8) {
                buffer.set(JAVA_LONG, i, i ^ 0x5a5a5a5aL);
            }
            Endpoint toOne = two.connect("127.0.0.1", one.port());
            MemorySegment into = Arena.ofAuto().allocate(BYTES, 4096);
            CompletableFuture<Long> received = one.receive(TAG, into);
            assertEquals(BYTES, toOne.send(TAG, buffer).get(30, TimeUnit.SECONDS));
            assertEquals(BYTES, received.get(30, TimeUnit.SECONDS));
            assertEquals(-1, into.mismatch(buffer), "sent from confined memory");
            Window window = one.allocateWindow(BYTES, Access.ALL);
            RemoteWindow remote = toOne.attach(window.key());
            remote.put(0, buffer).get(30, TimeUnit.SECONDS);
            remote.flush().get(30, TimeUnit.SECONDS);
            assertEquals(-1, window.segment().mismatch(buffer), "put from confined memory");
            window.segment().fill((byte) 0x33);
            remote.get(0, buffer).get(30, TimeUnit.SECONDS);
            assertEquals(-1, buffer.mismatch(window.segment()), "got into confined memory");
            buffer.fill((byte) 0);
            into.fill((byte) 0x77);
            CompletableFuture<Long> again = one.receive(TAG, buffer);
            assertEquals(BYTES, toOne.send(TAG, into).get(30, TimeUnit.SECONDS));
            assertEquals(BYTES, again.get(30, TimeUnit.SECONDS));
            assertEquals(-1, buffer.mismatch(into), "received into confined memory");
        }
    }

    /**
     * Memory confined to one thread, handed to the transport by another (a task, a completion
     * stage): refused with {@link WrongThreadException}, as FFM refuses any use of it there. Before,
     * it was copied by address, and its owner could close it under the copy: UCX or the kernel
     * then read or wrote freed memory.
     */
    @Test
    void memoryConfinedToAnotherThreadShouldBeRefused() throws Exception {
        try (Node one = loopback("one").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node two = loopback("two").build()) {
            Endpoint toOne = two.connect("127.0.0.1", one.port());
            RemoteWindow remote = toOne.attach(one.allocateWindow(BYTES, Access.ALL).key());
            MemorySegment large = mapping.buffer();
            MemorySegment small = large.asSlice(0, 64);
            List<Class<?>> refused = CompletableFuture.supplyAsync(() -> Arrays.<Class<?>>asList(
                    refusal(() -> toOne.send(TAG, small)),
                    refusal(() -> toOne.send(TAG, large)),
                    refusal(() -> {
                        toOne.sendCopy(TAG, small);
                        return null;
                    }),
                    refusal(() -> one.receive(TAG, large)),
                    refusal(() -> remote.put(0, large)),
                    refusal(() -> remote.get(0, large)))).get(60, TimeUnit.SECONDS);
            assertEquals(List.of(WrongThreadException.class, WrongThreadException.class, WrongThreadException.class,
                    WrongThreadException.class, WrongThreadException.class, WrongThreadException.class), refused,
                    "send, send, sendCopy, receive, put and get from another thread than the memory's owner");
            CompletableFuture<Long> received = one.receive(TAG, large);
            assertEquals(64, toOne.send(TAG, small).get(30, TimeUnit.SECONDS), "the owner's own send");
            assertEquals(64, received.get(30, TimeUnit.SECONDS), "the owner's own receive");
            GoodPeer.assertServed(one);
        }
    }

    /** The class of what {@code operation} threw, or of its future's failure; null if it succeeded. */
    private static Class<?> refusal(Callable<CompletableFuture<?>> operation) {
        try {
            CompletableFuture<?> future = operation.call();
            if (future != null) {
                future.get(5, TimeUnit.SECONDS); // a refusal fails it at once
            }
            return null;
        } catch (ExecutionException e) {
            return e.getCause().getClass();
        } catch (Exception e) {
            return e.getClass();
        }
    }

    /**
     * {@link CarelessCloserProbe} with confined arenas, in a child JVM whose closes unmap at once:
     * the owner closes a receive's or a send's arena at a random moment of an 8 MiB transfer over
     * TCP, after a spin or after a timed {@code get} of the receive that timed out. The process
     * lives, every send arrives whole (UCX read a copy), and each receive either has the whole
     * message or lost its buffer.
     */
    @ParameterizedTest
    @ValueSource(strings = {"spin", "timed"})
    void aCarelessOwnerShouldNeverHaveUcxWriteIntoFreedMemory(String wait) throws Exception {
        long seed = TestSeeds.seed("ConfinedArenaTest.aCarelessOwnerShouldNeverHaveUcxWriteIntoFreedMemory");
        ChildJvm child = ChildJvm.run(Map.of("MALLOC_MMAP_THRESHOLD_", "131072"), List.of(), CarelessCloserProbe.class,
                Integer.toString(Integer.getInteger("memreg.test.closerRounds", 80)), Long.toString(seed), "confined",
                wait);
        assertEquals("true", child.text("survived"), "the process lived on");
        assertEquals(0, child.value("refused"), "a confined arena's close is never refused");
        assertTrue(child.value("gone") > 0, "some receives lost their buffer under the transfer");
        assertTrue(child.value("intact") > 0, "some messages were checked whole");
    }
}
