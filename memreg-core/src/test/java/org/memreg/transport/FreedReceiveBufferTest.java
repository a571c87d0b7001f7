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
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A receive whose wait gave up (timed out, or interrupted) moves off the caller's buffer, which
 * the caller may free next, to memory of the node's own ({@code ReceiveOp.gaveUp}): a message that
 * comes later is copied into the buffer if it is still there, and dropped (the receive fails) if
 * not. Before, the common idiom of a try-with-resources around a timed wait killed the JVM: the
 * late message landed in the freed buffer (2,000 rounds: abort in libc's allocator at 64 bytes,
 * SIGSEGV at 4 KiB).
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TimedOutReceiveTest {
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

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {64, 4096, 100_000}) // eager twice, rendezvous
    void aTimedWaitInATryWithResourcesShouldNotLetALateMessageIntoFreedMemory(int bytes) throws Exception {
        UcxTestSupport.assumeUcx();
        int rounds = bytes > 65536 ? 200 : 2000;
        ChildJvm probe = ChildJvm.run(List.of(), TimedOutReceiveProbe.class, Integer.toString(rounds),
                Integer.toString(bytes));
        assertEquals("true", probe.text("survived"), String.join("\n", probe.lines()));
        assertEquals(rounds, probe.value("dropped"), "every late message dropped, none let into a closed arena");
        assertEquals(0, probe.value("other"));
        assertTrue(probe.value("sent") + probe.value("refused") == rounds, String.join("\n", probe.lines()));
    }
}
