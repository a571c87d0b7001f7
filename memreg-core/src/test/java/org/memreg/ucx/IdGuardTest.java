package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * memreg's guard over UCX's ids ({@link IdGuard}): every map of ids starts its count at random, and
 * every endpoint id is drawn at random, so none is a small number or its neighbour's. What a
 * forged message naming a guessed id no longer does: {@code TcpGuardTest} and {@code WireupGuardTest}.
 */
@Unprivileged
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class IdGuardTest {
    /** Two of 16 random 62-bit values this close: about one chance in 2^22. */
    private static final long APART = 1L << 32;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void eachMapOfIdsShouldStartItsCountAtRandom() {
        long before = IdGuard.Log.STARTS.count();
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker a = UcxWorker.create(context);
             UcxWorker b = UcxWorker.create(context)) {
            long made = IdGuard.Log.STARTS.count() - before;
            assertTrue(made >= 4, "each worker's endpoint and request maps: " + made);
            assertDrawnAtRandom(IdGuard.Log.STARTS.since(before), 3, 0,
                    "the count leaves the indirect flag and UCX's step clear");
        }
    }

    @Test
    void everyEndpointIdShouldBeDrawnAtRandom() {
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker a = UcxWorker.create(context);
             UcxWorker b = UcxWorker.create(context)) {
            long before = IdGuard.Log.ENDPOINTS.count();
            List<Long> endpoints = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                endpoints.add(a.connect(b.address(), Ucp.ERR_HANDLING_MODE_NONE));
            }
            long made = IdGuard.Log.ENDPOINTS.count() - before;
            assertTrue(made >= 6, "one id per endpoint of a's: " + made);
            assertDrawnAtRandom(IdGuard.Log.ENDPOINTS.since(before), 1, 1, "indirect, as memreg has UCP make them");
            for (long endpoint : endpoints) {
                UcxTestSupport.complete(a.closeEndpoint(endpoint, true), a, b);
            }
        }
    }

    /**
     * A worker's request count is set afresh where a request that names itself to a peer begins: a
     * rendezvous send, a rendezvous receive, a get. Only while the worker lives.
     */
    @Test
    void aWorkersRequestCountShouldBeSetAfreshForRendezvousAndGetsWhileItLives() {
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker a = UcxWorker.create(context);
             UcxWorker b = UcxWorker.create(context); Arena arena = Arena.ofConfined();
             UcxMemory window = context.allocate(4096, Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE
                     | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE)) {
            long out = a.connect(b.address(), Ucp.ERR_HANDLING_MODE_NONE);
            MemorySegment big = arena.allocate(1 << 20);
            long before = IdGuard.Log.SHUFFLES.count();
            long sends = IdGuard.Log.SENDS.count();
            UcxTestSupport.sendAndReceive(a, out, b, big, arena.allocate(big.byteSize()), 5);
            assertEquals(1, IdGuard.Log.SENDS.count() - sends, "one rendezvous send");
            assertEquals(2, IdGuard.Log.SHUFFLES.count() - before, "its send's count and its receive's");
            long rkey = a.unpackRkey(out, window.packRkey());
            MemorySegment into = arena.allocate(16);
            UcxTestSupport.complete(a.get(out, into.address(), 16, window.address(), rkey, 0), a, b);
            assertEquals(3, IdGuard.Log.SHUFFLES.count() - before, "and the get's");
            a.destroyRkey(rkey);
            UcxTestSupport.complete(a.closeEndpoint(out, true), a, b);
        }
    }

    @Test
    void aDestroyedWorkersRequestCountShouldBeForgotten() {
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP)) {
            UcxWorker worker = UcxWorker.create(context);
            long handle = worker.handle();
            assertTrue(IdGuard.shuffle(handle), "known while it lives");
            worker.close();
            assertFalse(IdGuard.shuffle(handle), "its memory is UCX's to reuse");
            assertFalse(IdGuard.shuffle(0), "nor is any worker the guard was not told of");
        }
    }

    /**
     * The guard stands in front of libucs's map destroy, which takes three arguments. Its stand-in
     * took one, so UCP's destroy read the other two from what the guard's unlock left in their
     * registers: after a futex wake (its lock contended) a "thread-safe map" with its hash at
     * address 1, and the process died (SIGSEGV in libucs, seen closing two nodes at once under
     * load in PeerBenchSmokeTest). With that bug this child died in six runs of six, within 0.4 s.
     */
    @Test
    void workersDestroyedWhileTheGuardsLockIsContendedShouldNotEndTheProcess() throws Exception {
        ChildJvm probe = ChildJvm.run(List.of(), WorkerChurnProbe.class, "2", "200");
        assertEquals("true", probe.text("survived"));
        assertEquals(400, probe.value("workers"));
    }

    /**
     * Each of values has the bits expected under mask (why), and no two are within APART of each
     * other: none follows another, as counted ids do.
     */
    private static void assertDrawnAtRandom(List<Long> values, long mask, long expected, String why) {
        for (long value : values) {
            assertEquals(expected, value & mask, why + ": " + values);
        }
        for (int i = 0; i < values.size(); i++) {
            for (int j = i + 1; j < values.size(); j++) {
                long gap = values.get(i) - values.get(j); // either way round, as unsigned: ids wrap
                assertTrue(Long.compareUnsigned(gap, APART) > 0 && Long.compareUnsigned(-gap, APART) > 0,
                        "not counted from one another: " + Long.toHexString(values.get(i)) + " and "
                                + Long.toHexString(values.get(j)) + " of " + values);
            }
        }
    }
}
