package org.memreg.transport;

import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.memreg.device.Access;

/**
 * {@link ManyThreadsTest}'s two nodes, used by many threads at once in every way the API allows
 * and some it refuses, for a while: messages eager and rendezvous (some into too small a buffer,
 * some cancelled, some waits interrupted), puts and gets (some out of bounds) through windows that
 * other threads invalidate, close and replace, the client's endpoint replaced under them, and
 * completion stages that use the nodes from inside their progress; for the last second, the client
 * node closed under them. Buffers are never freed under an operation (that is the caller's
 * contract, {@link TransportFuture}): they go to the GC. In a child JVM, so that a crash is an
 * exit status. {@code args}: seed, seconds (longer, by at most a minute, until a message and an
 * RMA went through: under load a short run may not get that far), threads. Prints each
 * outcome's count ({@code ok.<what>=}, {@code failed.<exception>=}), {@code extendedMillis=} (the
 * run's time past its seconds), {@code unexpected=} (failures
 * of any other kind, the first few with their stacks), {@code hung=} (threads that did not end)
 * and {@code served=true} once a new peer was served after it all.
 */
public final class ManyThreadsProbe {
    private static final long[] SIZES = {8, 100, 4096, 20_000, 100_000, 3 << 20};
    private static final long WINDOW_BYTES = 1 << 20;
    /** The longest wait for one operation: past the node's timeout (2 s), which ends what UCX can end. */
    private static final long WAIT_SECONDS = 5;
    /** The most the run goes on past its seconds for a message and an RMA to go through (see {@link #main}). */
    private static final long EXTRA_SECONDS = 60;
    private static final Map<String, Long> OUTCOMES = new TreeMap<>();
    private static final List<Throwable> UNEXPECTED = new CopyOnWriteArrayList<>();

    private final SplittableRandom random;
    private final Node server;
    private final Node client;
    private final AtomicReference<Endpoint> endpoint;
    private final List<Window> windows;

    private ManyThreadsProbe(SplittableRandom random, Node server, Node client, AtomicReference<Endpoint> endpoint,
            List<Window> windows) {
        this.random = random;
        this.server = server;
        this.client = client;
        this.endpoint = endpoint;
        this.windows = windows;
    }

    /** When the threads stop: far ahead until the client's close is under way. */
    private static volatile long stopAt;

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        long start = System.nanoTime();
        long closeAt = start + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]) - 1);
        stopAt = closeAt + TimeUnit.SECONDS.toNanos(EXTRA_SECONDS + 1);
        int threads = Integer.parseInt(args[2]);
        Duration timeout = Duration.ofSeconds(2);
        Node server = loopback("server").timeout(timeout).listen(new InetSocketAddress("127.0.0.1", 0)).build();
        Node client = loopback("client").timeout(timeout).progressThread(seed % 2 == 0).build();
        AtomicReference<Endpoint> endpoint = new AtomicReference<>(client.connect("127.0.0.1", server.port()));
        List<Window> windows = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 4; i++) {
            windows.add(server.allocateWindow(WINDOW_BYTES, Access.ALL));
        }
        Thread[] running = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            ManyThreadsProbe probe = new ManyThreadsProbe(new SplittableRandom(seed + t), server, client, endpoint, windows);
            running[t] = Thread.ofPlatform().name("user-" + t).start(() -> {
                while (System.nanoTime() - stopAt < 0) {
                    probe.step();
                }
            });
        }
        TimeUnit.NANOSECONDS.sleep(closeAt - System.nanoTime());
        // Under load a short run may end before a message and an RMA went through: it goes on until they have.
        long extendUntil = closeAt + TimeUnit.SECONDS.toNanos(EXTRA_SECONDS);
        while (!(came("ok.message") && came("ok.rma")) && System.nanoTime() - extendUntil < 0) {
            Thread.sleep(50);
        }
        System.out.println("extendedMillis=" + TimeUnit.NANOSECONDS.toMillis(Math.max(0, System.nanoTime() - closeAt)));
        // The last second, the client node closes under the threads (they go on, and must get the API's answers).
        stopAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        client.close();
        int hung = 0;
        for (Thread thread : running) {
            thread.join(TimeUnit.SECONDS.toMillis(60));
            hung += thread.isAlive() ? 1 : 0;
        }
        synchronized (OUTCOMES) {
            OUTCOMES.forEach((what, count) -> System.out.println(what + "=" + count));
        }
        System.out.println("unexpected=" + UNEXPECTED.size());
        UNEXPECTED.stream().limit(3).forEach(e -> e.printStackTrace(System.out));
        System.out.println("hung=" + hung);
        if (hung == 0) {
            windows.forEach(Window::close);
            GoodPeer.assertServed(server); // a peer closing under load leaves the node serving
            server.close();
            System.out.println("served=true");
        }
    }

    /** True once an outcome {@code what} was counted. */
    private static boolean came(String what) {
        synchronized (OUTCOMES) {
            return OUTCOMES.containsKey(what);
        }
    }

    private void step() {
        try {
            String done = switch (random.nextInt(10)) {
                case 0, 1 -> message();
                case 2, 3 -> rma();
                case 4 -> windowGoes();
                case 5 -> endpointGoes();
                case 6 -> receiveGivenUp();
                case 7, 8 -> insideProgress();
                default -> flush();
            };
            count("ok." + done);
        } catch (Throwable e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof TransportException || cause instanceof TimeoutException
                    || cause instanceof IllegalArgumentException || cause instanceof IndexOutOfBoundsException
                    || cause instanceof CancellationException || cause instanceof InterruptedException
                    || cause instanceof IllegalStateException) {
                count("failed." + cause.getClass().getSimpleName());
            } else {
                UNEXPECTED.add(e);
            }
        } finally {
            Thread.interrupted();
        }
    }

    /** The client's endpoint; a fresh one if another thread's stage closed it. */
    private Endpoint endpoint() {
        Endpoint current = endpoint.get();
        if (!current.isUsable()) {
            Endpoint fresh = client.connect("127.0.0.1", server.port());
            if (endpoint.compareAndSet(current, fresh)) {
                return fresh;
            }
            fresh.close();
        }
        return endpoint.get();
    }

    private static MemorySegment buffer(long bytes) {
        return Arena.ofAuto().allocate(bytes, 8); // freed by the GC once no operation holds it
    }

    /** A message of any size, sometimes into too small a buffer, sometimes its receive cancelled. */
    private String message() throws Exception {
        long tag = random.nextInt(4);
        long size = SIZES[random.nextInt(SIZES.length)];
        CompletableFuture<Long> received = server.receive(tag, buffer(random.nextInt(8) == 0 ? size / 2 + 1 : size));
        if (random.nextInt(8) == 0) {
            received.cancel(true);
        }
        try {
            if (random.nextInt(4) == 0 && size <= NodeBuilder.EAGER_BYTES_DEFAULT) {
                endpoint().sendCopy(tag, buffer(size));
            } else {
                endpoint().send(tag, buffer(size)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            }
            received.get(WAIT_SECONDS, TimeUnit.SECONDS);
            return "message";
        } finally {
            received.cancel(true); // not left to take another thread's message (false once it matched)
        }
    }

    private String flush() throws Exception {
        endpoint().flush().get(WAIT_SECONDS, TimeUnit.SECONDS);
        return "flush";
    }

    /** A put or get through a window other threads may invalidate or close; 1 in 20 out of bounds. */
    private String rma() throws Exception {
        RemoteWindow remote = endpoint().attach(windows.get(random.nextInt(windows.size())).key());
        long bytes = Math.min(SIZES[random.nextInt(SIZES.length)], WINDOW_BYTES);
        long offset = random.nextInt(20) == 0 ? WINDOW_BYTES - bytes / 2 : random.nextLong(WINDOW_BYTES - bytes + 1);
        CompletableFuture<Void> done = random.nextBoolean() ? remote.put(offset, buffer(bytes))
                : remote.get(offset, buffer(bytes));
        if (random.nextInt(8) == 0) {
            remote.mapped();
        }
        done.get(WAIT_SECONDS, TimeUnit.SECONDS);
        return "rma";
    }

    /** A window changes generation, or closes and is replaced (by an allocated or a registered one). */
    private String windowGoes() {
        int i = random.nextInt(windows.size());
        if (random.nextBoolean()) {
            windows.get(i).invalidate();
            return "invalidate";
        }
        Window fresh = random.nextBoolean() ? server.allocateWindow(WINDOW_BYTES, Access.ALL)
                : server.registerWindow(Arena.ofAuto().allocate(WINDOW_BYTES, 4096), Access.ALL);
        windows.set(i, fresh).close(); // under the threads that attach or use it
        return "replace";
    }

    /** The client's endpoint closes under the other threads, a new one takes its place. */
    private String endpointGoes() {
        if (random.nextInt(10) != 0) {
            return "skip";
        }
        Endpoint fresh = client.connect("127.0.0.1", server.port());
        endpoint.getAndSet(fresh).close();
        return "reconnect";
    }

    /** A receive nobody sends to: cancelled, timed out, or its wait interrupted. */
    private String receiveGivenUp() throws Exception {
        CompletableFuture<Long> received = server.receive(100 + random.nextInt(4), buffer(64));
        switch (random.nextInt(3)) {
            case 0 -> received.cancel(true);
            case 1 -> {
                try {
                    received.get(random.nextInt(3), TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    received.cancel(true);
                }
            }
            default -> {
                Thread me = Thread.currentThread();
                Thread.ofPlatform().start(me::interrupt);
                try {
                    received.get(20, TimeUnit.MILLISECONDS);
                } catch (InterruptedException | TimeoutException e) {
                    received.cancel(true);
                }
            }
        }
        return "givenUp";
    }

    /** A completion stage of a receive that uses the node from inside its progress. */
    private String insideProgress() throws Exception {
        long tag = 300 + random.nextInt(4);
        int what = random.nextInt(9);
        SplittableRandom stageRandom = random.split();
        CompletableFuture<Long> trigger = server.receive(tag, buffer(64));
        CompletableFuture<Object> stage = trigger.thenApply(n -> inside(what, stageRandom));
        try {
            endpoint().send(tag, buffer(64)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            stage.get(2 * WAIT_SECONDS, TimeUnit.SECONDS);
            return "stage" + what;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TransportException || e.getCause() instanceof IllegalStateException) {
                return "stageRefused" + what;
            }
            throw e;
        } finally {
            trigger.cancel(true);
        }
    }

    private Object inside(int what, SplittableRandom stageRandom) {
        Window window = windows.get(stageRandom.nextInt(windows.size()));
        return switch (what) {
            case 0 -> endpoint.get().attach(window.key());
            case 1 -> server.allocateWindow(4096, Access.ALL);
            case 2 -> endpoint.get().flush();
            case 3 -> endpoint.get().send(5, buffer(stageRandom.nextBoolean() ? 64 : 100_000));
            case 4 -> server.receive(6, buffer(64));
            case 5 -> {
                endpoint.get().sendCopy(5, buffer(64));
                yield "sendCopy";
            }
            case 6 -> {
                endpoint.get().close();
                yield "closed";
            }
            case 7 -> {
                window.invalidate();
                yield "invalidated";
            }
            default -> {
                window.close(); // refused inside progress, where no peer could acknowledge the revocation
                yield "windowClosed";
            }
        };
    }

    private static void count(String what) {
        synchronized (OUTCOMES) {
            OUTCOMES.merge(what, 1L, Long::sum);
        }
    }
}
