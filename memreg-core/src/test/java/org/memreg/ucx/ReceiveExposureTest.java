package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * UCX's rendezvous over TCP puts into the receive buffer with UCT's put, which the TCP guard lets
 * reach only memory exposed to peers ({@link ExposedMemory}): a receive buffer is exposed, for
 * writing, from UCP's registration of it for the put until its deregistration, and never a send
 * buffer. Before, memreg turned UCT's put over TCP off, at a third of the loopback bandwidth.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ReceiveExposureTest {
    private static final int MESSAGE = 1 << 20; // above any rendezvous threshold of UCX's over TCP
    private static final int RECV_TAG = 1 << 17; // UCP_REQUEST_FLAG_RECV_TAG
    private static final int RECV_AM = 1 << 16;
    private static final int SEND_TAG = 1 << 14;
    private static final int SEND_AM = 1 << 13;
    private static final int CONTIG = 0;
    private static final int IOV = 2; // UCP_DATATYPE_IOV
    private static final int HOST = 0;
    private static final int CUDA = 1;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    /** Over TCP alone, a message arrives whole by UCT's put, into a buffer with a memory handle or without. */
    @ParameterizedTest(name = "memh={0}")
    @ValueSource(booleans = {false, true})
    void aRendezvousShouldPutIntoTheReceiveBufferAndNoLonger(boolean memh) {
        long seed = System.nanoTime();
        System.out.println("ReceiveExposureTest seed " + seed);
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker sender = UcxWorker.create(context);
             UcxWorker receiver = UcxWorker.create(context); Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(MESSAGE, 4096);
            byte[] bytes = new byte[MESSAGE];
            new Random(seed).nextBytes(bytes);
            source.copyFrom(MemorySegment.ofArray(bytes));
            MemorySegment target = arena.allocate(MESSAGE, 4096);
            try (UcxMemory mapped = memh ? context.map(target.address(), MESSAGE, 0) : null) {
                long exposed = ExposedMemory.receivesExposed();
                long puts = TcpGuard.putsAdmitted();
                long refused = TcpGuard.framesRefused();
                // error mode NONE, memreg's default: UCP 1.13 puts over TCP only there (a PEER-mode
                // endpoint asks its put lanes' memory domains for invalidation, which TCP's lacks)
                long ep = sender.connect(receiver.address(), Ucp.ERR_HANDLING_MODE_NONE);
                MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES);
                long receive = receiver.tagReceive(target.address(), MESSAGE, 5, -1L, memh ? mapped.memh() : 0,
                        info.address());
                assertFalse(ExposedMemory.reaches(target.address(), 16, true), "posted, no rendezvous yet: not exposed");
                long send = sender.tagSend(ep, source.address(), MESSAGE, 5, 0);
                while (receiver.testReceive(receive, info.address()) == Ucp.INPROGRESS) {
                    sender.progress();
                    receiver.progress();
                }
                assertEquals(Ucp.OK, receiver.testReceive(receive, info.address()));
                Ucp.requestFree(receive);
                UcxTestSupport.complete(send, sender, receiver);
                assertEquals(-1L, source.mismatch(target), "arrived whole, seed " + seed);
                assertEquals(1, ExposedMemory.receivesExposed() - exposed, "the receive buffer was exposed once");
                assertTrue(TcpGuard.putsAdmitted() > puts, "by UCT's put over TCP");
                assertEquals(refused, TcpGuard.framesRefused(), "nothing refused");
                assertFalse(ExposedMemory.reaches(target.address(), 16, true), "received: withdrawn");
                assertFalse(ExposedMemory.reaches(source.address(), 16, true), "a send buffer never exposed");
                UcxTestSupport.complete(sender.closeEndpoint(ep, true), sender, receiver);
            }
        }
    }

    /** A peer puts into a posted receive buffer before a rendezvous names it, or after one filled it: refused. */
    @Test
    void aStrangerShouldNotPutIntoAReceiveBufferOutsideItsRendezvous() {
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker victim = UcxWorker.create(context);
             UcxWorker friend = UcxWorker.create(context); UcxMemory window = context.allocate(4096,
                     Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_WRITE);
             Arena arena = Arena.ofConfined()) {
            String key = HexFormat.of().formatHex(window.packRkey()); // binds no address over TCP
            MemorySegment posted = arena.allocate(MESSAGE, 4096).fill((byte) 'p');
            MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES);
            long receive = victim.tagReceive(posted.address(), MESSAGE, 9, -1L, 0, info.address());
            long writesRefused = TcpGuard.framesRefused(FrameFault.UNEXPOSED_WRITE);
            ChildJvm early = attack(victim, key, posted.address());
            assertNotEquals("Success/Success", early.text("op0"), "before the rendezvous: " + early.lines());
            assertEquals(-1L, posted.mismatch(arena.allocate(MESSAGE).fill((byte) 'p')), "untouched");

            long ep = friend.connect(victim.address(), Ucp.ERR_HANDLING_MODE_NONE); // UCP puts over TCP only so
            MemorySegment message = arena.allocate(MESSAGE, 4096).fill((byte) 'm');
            long send = friend.tagSend(ep, message.address(), MESSAGE, 9, 0);
            while (victim.testReceive(receive, info.address()) == Ucp.INPROGRESS) {
                friend.progress();
                victim.progress();
            }
            Ucp.requestFree(receive);
            UcxTestSupport.complete(send, friend, victim);
            assertEquals(-1L, message.mismatch(posted), "the friend's message arrived");
            ChildJvm late = attack(victim, key, posted.address());
            assertNotEquals("Success/Success", late.text("op0"), "after the rendezvous: " + late.lines());
            assertEquals(-1L, message.mismatch(posted), "untouched");
            assertEquals(2, TcpGuard.framesRefused(FrameFault.UNEXPOSED_WRITE) - writesRefused);
            UcxTestSupport.complete(friend.closeEndpoint(ep, true), friend, victim);
        }
    }

    /** The guard's decision, on made-up requests: which registrations expose, and what withdraws them. */
    @Test
    void onlyAReceiveRequestsContiguousHostBufferShouldBeExposed() throws Throwable {
        MethodHandle registered = GuardLibrary.LIBRARY.downcall("memreg_request_registered", FunctionDescriptor.of(
                JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
        MethodHandle withdraw = GuardLibrary.LIBRARY.downcall("memreg_withdraw", FunctionDescriptor.ofVoid(JAVA_LONG));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment request = arena.allocate(64, 8);
            MemorySegment buffer = arena.allocate(8192, 4096);
            long context = arena.allocate(8).address(); // only a name here: the owner
            long b = buffer.address();
            int[][] refusedCases = {{SEND_TAG, CONTIG, HOST}, {SEND_AM, CONTIG, HOST}, {0, CONTIG, HOST},
                {RECV_TAG | SEND_TAG, CONTIG, HOST}, {RECV_TAG, IOV, HOST}, {RECV_TAG, CONTIG, CUDA}};
            for (int[] c : refusedCases) {
                request.set(JAVA_INT, 4, c[0]);
                assertEquals(0, (int) registered.invokeExact(context, request.address(), b, 8192L, (long) c[1], c[2]));
                assertFalse(ExposedMemory.reaches(b, 16, true), "flags " + Integer.toHexString(c[0]) + " dt " + c[1]
                        + " memory type " + c[2]);
            }
            for (int flags : new int[] {RECV_TAG, RECV_AM}) {
                request.set(JAVA_INT, 4, flags);
                assertEquals(0, (int) registered.invokeExact(context, request.address(), b, 4096L, (long) CONTIG, HOST));
                assertTrue(ExposedMemory.reaches(b + 4000, 96, true), "a receive: exposed");
                assertFalse(ExposedMemory.reaches(b + 4000, 97, true), "as far as its length only");
                assertFalse(ExposedMemory.reaches(b, 16, false), "for writing only");
                withdraw.invokeExact(request.address()); // what ucp_request_memory_dereg does first
                assertFalse(ExposedMemory.reaches(b, 16, true), "deregistered: withdrawn");
            }
            request.set(JAVA_INT, 4, RECV_TAG);
            assertEquals(0, (int) registered.invokeExact(context, request.address(), b, 4096L, (long) CONTIG, HOST));
            request.set(JAVA_INT, 4, SEND_TAG); // the request, reused for a send without a deregistration
            assertEquals(0, (int) registered.invokeExact(context, request.address(), b, 4096L, (long) CONTIG, HOST));
            assertFalse(ExposedMemory.reaches(b, 16, true), "a reused request's exposure is gone");
            request.set(JAVA_INT, 4, RECV_TAG);
            assertEquals(0, (int) registered.invokeExact(context, request.address(), b, 4096L, (long) CONTIG, HOST));
            ExposedMemory.withdrawReceives(context);
            assertFalse(ExposedMemory.reaches(b, 16, true), "its context cleaned up: withdrawn");
        }
    }

    private static ChildJvm attack(UcxWorker victim, String key, long address) {
        return UcxTestSupport.runAgainst(victim, ExposureAttacker.class, HexFormat.of().formatHex(victim.address()),
                key, "put:" + address + ":16");
    }
}
