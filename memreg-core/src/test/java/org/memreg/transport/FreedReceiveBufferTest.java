package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A receive's message lands first in memory of the node's own ({@code Staging}) and is copied into
 * the caller's buffer only if the buffer is still there; a rendezvous message's chunks go into the
 * buffer only if it is there when the header comes. So a caller that frees the buffer with the
 * receive still posted has the message dropped (the receive fails), not written into freed memory.
 * Before, UCX wrote the message (or the rendezvous header) into the buffer at the match: 2,000
 * rounds of a try-with-resources around a timed wait killed the JVM (abort in libc's allocator at
 * 64 bytes, SIGSEGV at 4 KiB).
 */
@Unprivileged
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class FreedReceiveBufferTest {
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {8, 16 << 10, 1 << 20}) // eager, the eager limit, rendezvous
    void aReceiveWhoseWaitGaveUpShouldStillDeliverIntoItsBufferWhileItIsThere(long bytes) throws Exception {
        try (LoopbackPair pair = LoopbackPair.connect(node -> node)) {
            MemorySegment message = pair.arena().allocate(bytes, 8);
            for (long i = 0; i < bytes; i += 8) {
                message.set(java.lang.foreign.ValueLayout.JAVA_LONG, i, i * 31 + bytes);
            }
            MemorySegment buffer = pair.arena().allocate(bytes, 8);
            CompletableFuture<Long> timedOut = pair.server().receive(1, buffer);
            assertThrows(TimeoutException.class, () -> timedOut.get(1, TimeUnit.MILLISECONDS));
            CompletableFuture<Long> interrupted = pair.server().receive(2, pair.arena().allocate(bytes, 8));
            Thread.currentThread().interrupt();
            assertThrows(InterruptedException.class, () -> interrupted.get());
            pair.endpoint().send(1, message).get(20, TimeUnit.SECONDS);
            assertEquals(bytes, timedOut.get(20, TimeUnit.SECONDS), "the message, after the wait gave up");
            assertEquals(-1, buffer.mismatch(message), "in the buffer");
            pair.endpoint().send(2, message).get(20, TimeUnit.SECONDS);
            assertEquals(bytes, interrupted.get(20, TimeUnit.SECONDS), "and after an interrupted wait");
        }
    }

    /**
     * The careless caller ({@link FreedReceiveBufferProbe}) in a child JVM: a buffer of {@code
     * bufferBytes} freed under a posted receive, a message of {@code messageBytes} sent after.
     */
    @ParameterizedTest(name = "{0}-byte buffer, {1}-byte message, {2}")
    @CsvSource({
        "64, 64, timed", "4096, 4096, timed", "100000, 100000, timed", // eager twice, rendezvous
        "64, 64, unwaited", "1048576, 64, unwaited", "100000, 100000, unwaited", // and an eager message into 1 MiB
    })
    void aBufferFreedUnderAPostedReceiveShouldHaveItsMessageDroppedNotWrittenIntoFreedMemory(long bufferBytes,
            long messageBytes, String wait) throws Exception {
        UcxTestSupport.assumeUcx();
        int rounds = bufferBytes > 65536 ? 200 : 2000;
        ChildJvm probe = ChildJvm.run(List.of(), FreedReceiveBufferProbe.class, Integer.toString(rounds),
                Long.toString(bufferBytes), Long.toString(messageBytes), wait);
        assertEquals("true", probe.text("survived"), String.join("\n", probe.lines()));
        assertEquals(rounds, probe.value("dropped"), "every late message dropped, none let into a closed arena");
        assertEquals(0, probe.value("other"));
        assertTrue(probe.value("sent") + probe.value("refused") == rounds, String.join("\n", probe.lines()));
        if (messageBytes > NodeBuilder.EAGER_BYTES_DEFAULT) {
            assertEquals(rounds, probe.value("refused"), "every rendezvous message refused: its receive had no buffer");
        }
    }
}
