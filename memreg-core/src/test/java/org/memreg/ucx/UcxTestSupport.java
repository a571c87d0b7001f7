package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.memreg.testkit.ChildJvm;

/**
 * Where OpenUCX cannot be loaded, fails a test that needs it: {@code bin/test} installs it, so its
 * absence is a broken set-up, not a reason to pass. {@code MEMREG_ALLOW_SKIP=1} makes it a skip
 * instead (a machine without UCX on purpose), saying why.
 */
public final class UcxTestSupport {
    /** The environment variable that turns a missing UCX into a skip. */
    public static final String ALLOW_SKIP = "MEMREG_ALLOW_SKIP";

    private UcxTestSupport() {
    }

    /** Fails (or, with {@code MEMREG_ALLOW_SKIP=1}, skips) the calling test unless libucp loads. */
    public static void assumeUcx() {
        requireUcx(Ucp.isAvailable(), Ucp.unavailableReason().orElse("UCX unavailable"),
                "1".equals(System.getenv(ALLOW_SKIP)));
    }

    /** Progresses {@code workers} until {@code request} (a status pointer or a request) is done, then frees it. */
    public static void complete(long request, UcxWorker... workers) {
        while (Ucp.isRequest(request) && Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
            for (UcxWorker worker : workers) {
                worker.progress();
            }
        }
        if (Ucp.isRequest(request)) {
            Ucp.requestFree(request);
        }
    }

    /**
     * Runs {@code main} with {@code args} in a child JVM (UCX logging only what is fatal) while
     * this thread progresses {@code victim}, the worker the child talks to; returns it, ended.
     */
    static ChildJvm runAgainst(UcxWorker victim, Class<?> main, String... args) {
        CompletableFuture<ChildJvm> child = CompletableFuture.supplyAsync(() -> {
            try {
                return ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), main, args);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        while (!child.isDone()) {
            victim.progress();
            Thread.onSpinWait();
        }
        return child.join();
    }

    /**
     * UCX's status of {@code request} (a status pointer or a request) once done, as its string,
     * or {@code pending} after 20 s of progressing {@code worker}; a done request is freed.
     */
    static String statusOf(UcxWorker worker, long request) {
        return statusOf(worker, request, 20_000_000_000L);
    }

    /** {@link #statusOf(UcxWorker, long)}, {@code pending} after {@code patienceNanos}. */
    static String statusOf(UcxWorker worker, long request, long patienceNanos) {
        if (!Ucp.isRequest(request)) {
            return Ucp.statusString((int) request);
        }
        long deadline = System.nanoTime() + patienceNanos;
        while (Ucp.requestCheckStatus(request) == Ucp.INPROGRESS && System.nanoTime() < deadline) {
            worker.progress();
        }
        int status = Ucp.requestCheckStatus(request);
        if (status == Ucp.INPROGRESS) {
            return "pending";
        }
        Ucp.requestFree(request);
        return Ucp.statusString(status);
    }

    /**
     * Sends {@code source} from {@code sender} over {@code ep} under {@code tag} into {@code
     * target}, received by {@code receiver}; progresses both until the receive is done.
     */
    public static void sendAndReceive(UcxWorker sender, long ep, UcxWorker receiver, MemorySegment source,
            MemorySegment target, long tag) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES);
            long receive = receiver.tagReceive(target.address(), target.byteSize(), tag, -1L, 0, info.address());
            complete(sender.tagSend(ep, source.address(), source.byteSize(), tag, 0), sender, receiver);
            while (receiver.testReceive(receive, info.address()) == Ucp.INPROGRESS) {
                sender.progress();
                receiver.progress();
            }
            Ucp.requestFree(receive);
        }
    }

    /** TCP connections this process's workers admitted with their token ({@code TcpGuard}), for tests elsewhere. */
    public static long tcpAdmitted() {
        return TcpGuard.admitted();
    }

    /** Sends to a TCP peer that had left, reported to UCX as sent ({@code TcpGuard}), for tests elsewhere. */
    public static long tcpSendsToDeparted() {
        return TcpGuard.sendsToDeparted();
    }

    /** Software puts this process's workers dropped for memory not exposed to writes ({@code ExposedMemory}), for tests elsewhere. */
    public static long softwarePutsRefused() {
        return ExposedMemory.softwarePutsRefused();
    }

    /** The decision of {@link #assumeUcx()}, for a test of it. */
    static void requireUcx(boolean available, String reason, boolean allowSkip) {
        if (available) {
            return;
        }
        if (allowSkip) {
            System.out.println("skipped (" + ALLOW_SKIP + "=1): " + reason);
            assumeTrue(false, reason);
        }
        fail(reason + " (bin/test installs OpenUCX; " + ALLOW_SKIP + "=1 skips the tests that need it)");
    }
}
