package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.linux.SysvShm;
import org.memreg.testkit.SegmentAccessors;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * Threads inside a peer's mapped window ({@link RemoteWindow#mapped}: reading, writing, filling and
 * copying) while the owner revokes its key, the endpoint closes or the node closes, at a random
 * moment: each thread gets an {@link IllegalStateException}, never a fault, and no write of theirs
 * reaches the owner's memory once the revocation or close has returned. The revocation detaches
 * the segment under the threads; if it did so before their accesses were over, the JVM would die
 * here. The same for the owner's threads when its window closes.
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MappedRevocationRaceTest {
    private static final long BYTES = 256 << 10;
    private static final int THREADS = 4, ROUNDS = 40;

    @Test
    void threadsInsideAMappingShouldGetAnExceptionWhenItEndsUnderThem() throws Exception {
        SplittableRandom random = new SplittableRandom(TestSeeds.seed("MappedRevocationRaceTest"));
        try (LoopbackPair pair = LoopbackPair.connect(b -> b)) {
            Window window = pair.server().allocateWindow(BYTES, Access.ALL);
            Endpoint endpoint = pair.endpoint();
            for (int round = 0; round <= ROUNDS; round++) {
                boolean last = round == ROUNDS;
                boolean closeEndpoint = !last && random.nextInt(4) == 0;
                MemorySegment seen = endpoint.attach(window.key()).mapped().orElseThrow();
                long at = seen.address();
                SegmentAccessors accessors = new SegmentAccessors(seen, THREADS, round + 1, random.nextLong());
                LockSupport.parkNanos(random.nextLong(3_000_000)); // into the middle of their accesses
                String how;
                if (last) {
                    how = "the node closed";
                    pair.client().close();
                } else if (closeEndpoint) {
                    how = "the endpoint closed";
                    endpoint.close();
                    endpoint = pair.client().connect("127.0.0.1", pair.server().port());
                } else {
                    how = "the key was revoked";
                    window.invalidate();
                }
                window.segment().fill((byte) 0); // what lands after this came after the end
                String where = "round " + round + ", " + how;
                accessors.assertStoppedByTheEnd(where);
                assertEquals(-1, SysvShm.idOf(at), where + ": the segment stayed attached");
                long stray = window.segment().elements(JAVA_LONG).filter(word -> word.get(JAVA_LONG, 0) != 0).count();
                assertEquals(0, stray, where + ": words written into the owner's memory after the end");
            }
        }
    }

    /**
     * The same for the owner's own threads in {@link Window#segment()} when the window closes (and
     * for a peer's in its mapping of it): the segment ends before UCX unmaps the memory.
     */
    @Test
    void threadsInsideAWindowShouldGetAnExceptionWhenItClosesUnderThem() throws Exception {
        SplittableRandom random = new SplittableRandom(TestSeeds.seed("MappedRevocationRaceTest.close"));
        try (LoopbackPair pair = LoopbackPair.connect(b -> b)) {
            for (int round = 0; round <= ROUNDS / 2; round++) {
                boolean last = round == ROUNDS / 2;
                Window window = pair.server().allocateWindow(BYTES, Access.ALL);
                long at = window.segment().address();
                SegmentAccessors owners = new SegmentAccessors(window.segment(), THREADS, round + 1, random.nextLong());
                SegmentAccessors peers = new SegmentAccessors(pair.endpoint().attach(window.key()).mapped().orElseThrow(),
                        THREADS, round + 1, random.nextLong());
                LockSupport.parkNanos(random.nextLong(3_000_000));
                if (last) {
                    pair.server().close();
                } else {
                    window.close();
                }
                String where = "round " + round + (last ? ", the owner's node closed" : ", the window closed");
                for (SegmentAccessors accessors : List.of(owners, peers)) {
                    accessors.assertStoppedByTheEnd(where);
                }
                assertEquals(-1, SysvShm.idOf(at), where + ": the window's memory is still mapped");
            }
        }
    }
}
