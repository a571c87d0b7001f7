package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.linux.Mman;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxTestSupport;

/**
 * A get from a window whose owner stopped progressing, over TCP (where UCX's software get waits
 * for the owner's answer): its future completes only once UCX has let go of the caller's buffer
 * ({@link LentFutureTest} for the rest of that rule). Before, it failed at the node's timeout, and
 * a caller that unmapped the buffer then had the owner's late answer written into unmapped memory
 * (SIGSEGV).
 */
@Unprivileged
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StalledWindowOwnerTest {
    private static final long WINDOW = 1 << 20;

    /**
     * A get from an owner that stopped progressing passes the node's timeout without completing,
     * for UCX would still write the answer into the caller's buffer; {@link Node#await} waits on
     * past its timeout, and once the owner is back the get completes with its data.
     */
    @Test
    void aGetShouldCompleteOnlyOnceUcxHasWrittenItsBuffer() throws Exception {
        UcxTestSupport.assumeUcx();
        try (StalledOwner owner = new StalledOwner(ErrorMode.NONE); Node origin = origin(ErrorMode.NONE)) {
            long target = Mman.mapAnonymous(WINDOW);
            CompletableFuture<Void> get = owner.stalledGet(origin, target);
            assertThrows(TimeoutException.class, () -> get.get(2, TimeUnit.SECONDS),
                    "4 times the node's timeout: UCX still waits for the owner's answer");
            Thread.ofPlatform().start(() -> {
                sleep(1000);
                owner.resume();
            });
            origin.await(get); // past its 500 ms: a get is waited for until UCX has written the buffer
            assertEquals(-1, MemorySegment.ofAddress(target).reinterpret(WINDOW).mismatch(owner.window.segment()),
                    "the owner's bytes");
            Mman.munmap(target, WINDOW);
        }
    }

    /**
     * A get held when its node closes completes once the close has returned, the worker gone and
     * UCX's hold with it; its buffer is unmapped then, and the owner's late answer harms nothing.
     */
    @Test
    void aHeldGetShouldCompleteOnceItsNodeHasClosed() throws Exception {
        UcxTestSupport.assumeUcx();
        try (StalledOwner owner = new StalledOwner(ErrorMode.NONE); Node origin = origin(ErrorMode.NONE)) {
            long target = Mman.mapAnonymous(WINDOW);
            CompletableFuture<Void> get = owner.stalledGet(origin, target);
            assertThrows(TimeoutException.class, () -> get.get(1, TimeUnit.SECONDS));
            AtomicInteger operationsLeft = new AtomicInteger(-1);
            get.whenComplete((done, failed) -> operationsLeft.set(origin.operations()));
            origin.close(); // closed again by the try: harmless
            assertEquals(0, operationsLeft.get(), "completed once nothing of the node was left with UCX");
            Throwable closed = assertThrows(ExecutionException.class, () -> get.get(0, TimeUnit.SECONDS)).getCause();
            assertEquals(Ucp.ERR_CANCELED, assertInstanceOf(TransportException.class, closed).status(),
                    closed.getMessage());
            Mman.munmap(target, WINDOW);
            owner.resume(); // it answers a node that has gone
            Thread.sleep(500);
        }
    }

    /**
     * In error mode PEER a get to an owner that stopped progressing fails its endpoint at the
     * node's timeout: UCX's forced close ends the get, whose future fails with the timeout, and
     * the owner's late answer, after the buffer was unmapped, harms nothing.
     */
    @Test
    void aGetToAStalledOwnerShouldFailItsEndpointInErrorModePeer() throws Exception {
        UcxTestSupport.assumeUcx();
        try (StalledOwner owner = new StalledOwner(ErrorMode.PEER); Node origin = origin(ErrorMode.PEER)) {
            long target = Mman.mapAnonymous(WINDOW);
            CompletableFuture<Void> get = owner.stalledGet(origin, target);
            Throwable failed = assertThrows(ExecutionException.class, () -> get.get(30, TimeUnit.SECONDS)).getCause();
            TransportException timedOut = assertInstanceOf(TransportException.class, failed);
            assertEquals(Ucp.ERR_TIMED_OUT, timedOut.status(), timedOut.getMessage());
            assertFalse(owner.attached.endpoint.isUsable(), "the endpoint failed");
            Mman.munmap(target, WINDOW);
            owner.resume(); // it answers a get whose buffer is gone
            Thread.sleep(500);
        }
    }

    /** A window's owner over TCP whose progress the test pauses and resumes. */
    private static final class StalledOwner implements AutoCloseable {
        private final PausableNode owner;
        final Window window;
        /** The window as the origin of {@link #stalledGet} attached it. */
        RemoteWindow attached;

        StalledOwner(ErrorMode mode) {
            owner = new PausableNode(loopback("owner").ucx("TLS", "tcp").errorMode(mode)
                    .listen(new InetSocketAddress("127.0.0.1", 0)));
            window = owner.node.allocateWindow(WINDOW, Access.ALL);
            for (long i = 0; i < WINDOW; i += 8) {
                window.segment().set(JAVA_LONG, i, i * 31 + 7);
            }
        }

        /**
         * Attaches {@code origin} to the window, stops the owner's progress (once the round under
         * way has ended) and gets the whole window into {@code target}: a get the owner will not answer.
         */
        CompletableFuture<Void> stalledGet(Node origin, long target) throws InterruptedException {
            attached = origin.connect("127.0.0.1", owner.node.port()).attach(window.key());
            owner.pause();
            Thread.sleep(50);
            return attached.get(0, MemorySegment.ofAddress(target).reinterpret(WINDOW));
        }

        void resume() {
            owner.resume();
        }

        @Override
        public void close() throws InterruptedException {
            owner.close();
        }
    }

    /** An origin over TCP with a 500 ms timeout. */
    private static Node origin(ErrorMode mode) {
        return loopback("origin").ucx("TLS", "tcp").errorMode(mode).timeout(Duration.ofMillis(500)).build();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
