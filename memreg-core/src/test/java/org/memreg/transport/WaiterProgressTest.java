package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * The waiter progresses ({@link Waiters}): a thread blocked on a transport future drives the
 * worker itself, many waiters at once with the progress thread running lose no wake-up and never
 * deadlock, and waits end on interrupt, timeout and close.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WaiterProgressTest {
    private static final long PING = 1, PONG = 2;
    /** Per-thread tags in the stress test: thread t sends under BASE + 2t and receives the echo under BASE + 2t + 1. */
    private static final long BASE = 100;

    /** Two nodes on loopback, the client connected; {@code waitSpin} null keeps the default. */
    private record Pair(Node server, Node client, Endpoint toServer, Endpoint toClient, boolean progressThread)
            implements AutoCloseable {
        static Pair open(boolean progressThread, Duration waitSpin) throws Exception {
            NodeBuilder s = Node.builder().name("server").ucx("NET_DEVICES", "lo").progressThread(progressThread)
                    .listen(new InetSocketAddress("127.0.0.1", 0));
            NodeBuilder c = Node.builder().name("client").ucx("NET_DEVICES", "lo").progressThread(progressThread);
            if (waitSpin != null) {
                s.waitSpin(waitSpin);
                c.waitSpin(waitSpin);
            }
            Node server = s.build();
            Node client = c.build();
            CompletableFuture<Endpoint> connected = CompletableFuture.supplyAsync(
                    () -> client.connect("127.0.0.1", server.port()));
            Endpoint accepted;
            while ((accepted = server.accepted()) == null) {
                if (!progressThread) {
                    server.progress(); // nobody else drives the server while the client connects
                }
                Thread.onSpinWait();
            }
            return new Pair(server, client, connected.get(30, TimeUnit.SECONDS), accepted, progressThread);
        }

        @Override
        public void close() {
            client.close();
            server.close();
        }
    }

    @Test
    void aWaiterInGetShouldCompleteItsOwnReceiveWithTheProgressThreadOn() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("WaiterProgressTest");
        SplittableRandom random = new SplittableRandom(seed);
        int rounds = 300;
        try (Pair pair = Pair.open(true, null); Arena arena = Arena.ofShared()) {
            Future<?> echo = echo(pair, PING, PONG, rounds, 64);
            MemorySegment out = arena.allocate(64);
            MemorySegment in = arena.allocate(64);
            int byWaiter = 0;
            for (int i = 0; i < rounds; i++) {
                long value = random.nextLong();
                out.fill((byte) 0);
                out.set(JAVA_LONG, 0, value);
                CompletableFuture<Long> back = pair.client().receive(PONG, in);
                AtomicReference<Thread> completer = new AtomicReference<>();
                back.whenComplete((length, failure) -> completer.set(Thread.currentThread())); // before it can complete
                pair.client().await(pair.toServer().send(PING, out));
                assertEquals(64, back.get(30, TimeUnit.SECONDS));
                assertEquals(value, in.get(JAVA_LONG, 0), "round " + i);
                if (completer.get() == Thread.currentThread()) {
                    byWaiter++;
                }
            }
            echo.get(30, TimeUnit.SECONDS);
            // Before the waiter drove, the progress thread completed every one (0 of 300); a rare one may still be
            // completed by the progress thread when it polls just as the waiter starts.
            assertTrue(byWaiter > rounds / 2, byWaiter + " of " + rounds + " completed by the thread waiting for them");
        }
    }

    /**
     * Many threads on each side wait at once, each in a randomly chosen way, with messages eager and
     * rendezvous, random idle gaps (longer than a short wait spin, so that drivers go idle and the
     * progress thread takes over and steps aside again): every echo arrives intact, nothing hangs.
     */
    @ParameterizedTest(name = "progressThread={0} waitSpinMicros={1}")
    @CsvSource({"true, -1", "true, 0", "true, 30", "false, -1", "false, 30"})
    void manyWaitersAtOnceShouldLoseNoWakeUpNorDeadlock(boolean progressThread, long waitSpinMicros)
            throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("WaiterProgressTest progressThread=" + progressThread
                + " waitSpin=" + waitSpinMicros);
        int threads = 6;
        int rounds = Boolean.getBoolean("memreg.test.long") ? 3000 : 150;
        int maxBytes = 96 << 10; // past the eager limit: some messages go by rendezvous
        Duration spin = waitSpinMicros < 0 ? null : Duration.ofNanos(waitSpinMicros * 1000);
        try (Pair pair = Pair.open(progressThread, spin)) {
            List<Future<?>> all = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long tag = BASE + 2L * t;
                all.add(echo(pair, tag, tag + 1, rounds, maxBytes));
            }
            AtomicInteger done = new AtomicInteger();
            for (int t = 0; t < threads; t++) {
                long tag = BASE + 2L * t;
                SplittableRandom random = new SplittableRandom(seed + t);
                all.add(CompletableFuture.runAsync(() -> {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment out = arena.allocate(maxBytes);
                        MemorySegment in = arena.allocate(maxBytes);
                        for (int i = 0; i < rounds; i++) {
                            int bytes = random.nextInt(4) == 0 ? 1 + random.nextInt(maxBytes) : 1 + random.nextInt(64);
                            byte fill = (byte) random.nextInt();
                            out.asSlice(0, bytes).fill(fill);
                            in.fill((byte) ~fill);
                            CompletableFuture<Long> back = pair.client().receive(tag + 1, in);
                            wait(pair.client(), pair.toServer().send(tag, out.asSlice(0, bytes)), random, progressThread);
                            assertEquals(bytes, wait(pair.client(), back, random, progressThread));
                            assertEquals(-1, in.asSlice(0, bytes).mismatch(out.asSlice(0, bytes)),
                                    "echo of " + bytes + " bytes, round " + i);
                            if (random.nextInt(8) == 0) {
                                LockSupport.parkNanos(random.nextLong(200_000)); // idle: drivers may give up
                            }
                        }
                        done.incrementAndGet();
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }, command -> Thread.ofPlatform().start(command)));
            }
            for (Future<?> f : all) {
                f.get(100, TimeUnit.SECONDS);
            }
            assertEquals(threads, done.get());
        }
    }

    /** A thread that drove and then ended is not kept by the node (a service's short-lived threads wait too). */
    @Test
    void aThreadThatDroveAndEndedShouldNotBeKept() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Pair pair = Pair.open(true, null); Arena arena = Arena.ofShared()) {
            Future<?> echo = echo(pair, PING, PONG, 50, 64);
            MemorySegment out = arena.allocate(64);
            MemorySegment in = arena.allocate(64);
            AtomicInteger drove = new AtomicInteger();
            Thread waiter = Thread.ofPlatform().name("short-lived waiter").start(() -> {
                for (int i = 0; i < 50; i++) {
                    CompletableFuture<Long> back = pair.client().receive(PONG, in);
                    back.whenComplete((length, failure) -> {
                        if (Thread.currentThread().getName().equals("short-lived waiter")) {
                            drove.incrementAndGet();
                        }
                    });
                    pair.toServer().send(PING, out).join();
                    back.join();
                }
            });
            waiter.join();
            echo.get(30, TimeUnit.SECONDS);
            assertTrue(drove.get() > 0, "the waiter completed none of its receives itself");
            WeakReference<Thread> ended = new WeakReference<>(waiter);
            waiter = null;
            for (int i = 0; i < 50 && ended.get() != null; i++) {
                System.gc();
                LockSupport.parkNanos(10_000_000);
            }
            assertNull(ended.get(), "the node still refers to a thread that ended");
        }
    }

    @Test
    void waitsShouldEndOnInterruptTimeoutAndClose() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Pair pair = Pair.open(true, null); Arena arena = Arena.ofShared()) {
            MemorySegment in = arena.allocate(8);
            CompletableFuture<Long> never = pair.client().receive(77, in);
            assertThrows(TimeoutException.class, () -> never.get(20, TimeUnit.MILLISECONDS));

            Thread main = Thread.currentThread();
            Thread interrupter = Thread.ofPlatform().start(() -> {
                LockSupport.parkNanos(30_000_000);
                main.interrupt();
            });
            assertThrows(InterruptedException.class, never::get);
            assertTrue(!Thread.interrupted(), "get cleared the flag as it threw");
            interrupter.join();

            // join() is not interruptible: it keeps waiting, keeps the flag, and returns once the message comes
            MemorySegment out = arena.allocate(8);
            CompletableFuture<Long> comes = pair.client().receive(78, in);
            Thread sender = Thread.ofPlatform().start(() -> {
                LockSupport.parkNanos(30_000_000);
                main.interrupt();
                LockSupport.parkNanos(30_000_000);
                pair.toClient().send(78, out).join();
            });
            assertEquals(8, comes.join());
            assertTrue(Thread.interrupted(), "join kept the interrupt");
            sender.join();

            // many threads blocked, some driving, while the node closes: each wait ends with the node's failure
            List<CompletableFuture<Throwable>> blocked = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                CompletableFuture<Long> receive = pair.client().receive(200 + i, arena.allocate(8));
                CompletableFuture<Throwable> outcome = new CompletableFuture<>();
                Thread.ofPlatform().start(() -> {
                    try {
                        receive.get();
                        outcome.complete(null);
                    } catch (Throwable t) {
                        outcome.complete(t);
                    }
                });
                blocked.add(outcome);
            }
            LockSupport.parkNanos(20_000_000);
            pair.client().close();
            for (CompletableFuture<Throwable> outcome : blocked) {
                Throwable t = outcome.get(30, TimeUnit.SECONDS);
                assertInstanceOf(ExecutionException.class, t);
                assertInstanceOf(TransportException.class, t.getCause());
            }
        }
    }

    /** Waits for {@code future} in a way chosen at random; {@code thread}: a progress thread runs (polling and plain futures rely on it). */
    private static <T> T wait(Node node, CompletableFuture<T> future, SplittableRandom random, boolean thread)
            throws Exception {
        return switch (random.nextInt(thread ? 7 : 5)) {
            case 0 -> future.get();
            case 1 -> future.get(60, TimeUnit.SECONDS);
            case 2 -> future.join();
            case 3 -> node.await(future);
            case 4 -> future.thenApply(v -> v).get(); // a dependent stage drives too
            case 5 -> { // a plain future nobody drives but the progress thread and other waiters
                CompletableFuture<T> plain = new CompletableFuture<>();
                future.whenComplete((v, e) -> {
                    if (e == null) {
                        plain.complete(v);
                    } else {
                        plain.completeExceptionally(e);
                    }
                });
                yield plain.get(60, TimeUnit.SECONDS);
            }
            default -> {
                while (!future.isDone()) {
                    Thread.onSpinWait(); // polls; the progress thread completes it
                }
                yield future.get();
            }
        };
    }

    /** The server's side for one tag: {@code rounds} times receive under {@code in}, send it back under {@code out}. */
    private static Future<?> echo(Pair pair, long in, long out, int rounds, int maxBytes) {
        Node server = pair.server();
        Endpoint toClient = pair.toClient();
        return CompletableFuture.runAsync(() -> {
            SplittableRandom random = new SplittableRandom(in);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(maxBytes);
                for (int i = 0; i < rounds; i++) {
                    long length = wait(server, server.receive(in, buffer), random, pair.progressThread());
                    wait(server, toClient.send(out, buffer.asSlice(0, length)), random, pair.progressThread());
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }, command -> Thread.ofPlatform().start(command));
    }
}
