package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Endpoint#sendCopy}: the data is out of the buffer when it returns, from any number of
 * threads at once, and misuse is a clear error.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SendCopyTest {
    private static final long TAG = 7;
    private LoopbackPair pair;

    @BeforeEach
    void connect() {
        pair = LoopbackPair.connect(b -> b.connectTimeout(Duration.ofSeconds(2)));
    }

    @AfterEach
    void close() {
        if (pair != null) {
            pair.close();
        }
    }

    /** Receives {@code count} messages of {@code size} bytes and returns their first longs, in arrival order. */
    private long[] receive(int count, long size) throws Exception {
        MemorySegment in = pair.arena().allocate(size, 8);
        long[] values = new long[count];
        for (int i = 0; i < count; i++) {
            assertEquals(size, pair.server().receive(TAG, in).get(20, TimeUnit.SECONDS));
            values[i] = in.get(ValueLayout.JAVA_LONG, 0);
        }
        return values;
    }

    /** 8 bytes go at once; the eager size may go by UCX's rendezvous, which finishes later. */
    @ParameterizedTest
    @ValueSource(longs = {8, NodeBuilder.EAGER_BYTES_DEFAULT})
    void shouldHaveTheDataOutOfTheBufferWhenItReturns(long size) throws Exception {
        int count = 2_000;
        CompletableFuture<long[]> received = CompletableFuture.supplyAsync(() -> {
            try {
                return receive(count, size);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        MemorySegment out = pair.arena().allocate(size, 8);
        for (int i = 0; i < count; i++) {
            out.set(ValueLayout.JAVA_LONG, 0, i);
            pair.endpoint().sendCopy(TAG, out);
            out.set(ValueLayout.JAVA_LONG, 0, -1); // at once: the message must not see it
        }
        long[] values = received.get(30, TimeUnit.SECONDS);
        for (int i = 0; i < count; i++) {
            assertEquals(i, values[i], "message " + i + " (tagged messages from one sender arrive in order)");
        }
    }

    @Test
    void shouldDeliverEveryMessageOfManyThreads() throws Exception {
        int threads = 4;
        int each = 500;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            Future<?>[] senders = new Future<?>[threads];
            for (int t = 0; t < threads; t++) {
                int base = t * each;
                senders[t] = pool.submit(() -> {
                    MemorySegment out = pair.arena().allocate(8, 8);
                    for (int i = 0; i < each; i++) {
                        out.set(ValueLayout.JAVA_LONG, 0, base + i);
                        pair.endpoint().sendCopy(TAG, out);
                    }
                    return null;
                });
            }
            BitSet seen = new BitSet();
            for (long value : receive(threads * each, 8)) {
                assertTrue(value >= 0 && value < threads * each && !seen.get((int) value), "value " + value);
                seen.set((int) value);
            }
            for (Future<?> sender : senders) {
                sender.get(10, TimeUnit.SECONDS);
            }
            assertEquals(threads * each, seen.cardinality());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void shouldRefuseMisuse() throws Exception {
        Endpoint endpoint = pair.endpoint();
        long eager = NodeBuilder.EAGER_BYTES_DEFAULT;
        IllegalArgumentException large = assertThrows(IllegalArgumentException.class,
                () -> endpoint.sendCopy(TAG, pair.arena().allocate(eager + 1)));
        assertTrue(large.getMessage().contains(String.valueOf(eager)), large.getMessage());
        assertThrows(IllegalArgumentException.class, () -> endpoint.sendCopy(TAG, MemorySegment.ofArray(new byte[8])));
        assertThrows(IllegalArgumentException.class, () -> endpoint.sendCopy(-1, pair.arena().allocate(8)));
        // the eager size itself goes; UCX may take a message this size by its own rendezvous, which
        // waits for the receive, so the receive is posted first
        CompletableFuture<Long> received = pair.server().receive(TAG, pair.arena().allocate(eager));
        endpoint.sendCopy(TAG, pair.arena().allocate(eager));
        assertEquals(eager, received.get(20, TimeUnit.SECONDS));
        endpoint.close();
        TransportException closed = assertThrows(TransportException.class,
                () -> endpoint.sendCopy(TAG, pair.arena().allocate(8)));
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
    }
}
