package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * memreg's guards over UCP 1.13's wire-up ({@link WireupGuard}): a peer that leaves while a
 * worker's reply to it waits for the connection to be acknowledged ended the worker's process;
 * now the reply is freed and the worker serves on. And one forged acknowledgement or pre-request
 * ended it; now these are dropped before UCP reads them.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class WireupGuardTest {
    /**
     * Up to this many leavers, until one left at that moment: each does unless it came too late,
     * which a loaded machine makes likelier (4 of 5 did on an idle one, 2 of 9 with both cores
     * busy twice over).
     */
    private static final int LEAVERS = 24;
    private static final int WANTED = 1;

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void aPeerThatLeavesWhileTheReplyWaitsShouldNotEndTheWorker() throws Exception {
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), WireupGuardProbe.class,
                String.valueOf(LEAVERS), String.valueOf(WANTED));
        assertEquals("true", probe.text("survived"), "the worker survived its leavers");
        assertEquals(WANTED, probe.value("requests"), "leavers that left while the reply waited: " + probe.lines());
        assertTrue(probe.value("freed") >= 1, "a waiting reply was freed: " + probe.value("freed"));
    }

    /** One forged acknowledgement or pre-request ended the process; each is dropped, and the worker serves on. */
    @Test
    void aForgedAcknowledgementOrPreRequestShouldNotEndTheWorker() throws Exception {
        ChildJvm forger = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), WireupForger.class);
        assertEquals("true", forger.text("survived"), "the worker survived: " + forger.lines());
        assertTrue(forger.value("forged") >= 6, "three to each of at least two endpoints");
        assertEquals(forger.value("forged"), forger.value("dropped"), "each dropped before UCP read it");
        assertEquals(0, forger.value("passed"), "none let through");
        assertEquals("served,served", forger.text("received"));
    }

    /**
     * Endpoint ids were counted from zero: a stranger's EP_REMOVED at a small id failed an endpoint,
     * and so could a peer's at a neighbour of the id it was given.
     */
    @ParameterizedTest
    @ValueSource(strings = {"removed", "removed-near"})
    void guessingEndpointIdsShouldNotFailAnEndpoint(String how) throws Exception {
        ChildJvm forger = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), WireupForger.class, how);
        assertEquals("true", forger.text("survived"), "the worker survived: " + forger.lines());
        if (how.equals("removed-near")) {
            assertEquals("true", forger.text("seen"), "the worker made an endpoint for the third");
        }
        assertEquals(32, forger.value("forged"));
        assertEquals("served,served", forger.text("received"), "its endpoints serve both ways");
    }

    /**
     * A peer in another process connects: the worker's reply to it is noted for that worker (its
     * request read at UCX 1.13.1's offsets) and awaits an acknowledgement, which over TCP never
     * comes, until the worker goes.
     */
    @Test
    void aReplyShouldAwaitItsAcknowledgementForItsOwnWorker() throws Throwable {
        MethodHandle awaiting = GuardLibrary.LIBRARY.downcall("memreg_wireup_awaiting",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxMemory window = context.allocate(4096,
                Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_WRITE);
             UcxWorker victim = UcxWorker.create(context)) {
            long handle = victim.handle();
            long forAny = (long) awaiting.invokeExact(0L);
            ChildJvm peer = UcxTestSupport.runAgainst(victim, ExposureAttacker.class,
                    HexFormat.of().formatHex(victim.address()), HexFormat.of().formatHex(window.packRkey()),
                    "put:" + window.address() + ":16");
            assertEquals("Success/Success", peer.text("op0"), "the peer's put: " + peer.lines());
            assertTrue((long) awaiting.invokeExact(handle) >= 1, "the reply to the peer, noted for its worker");
            assertEquals(forAny, (long) awaiting.invokeExact(0L), "none for any worker");
            victim.close(); // twice is harmless
            assertEquals(0L, (long) awaiting.invokeExact(handle), "forgotten with its worker");
        }
    }

    /**
     * The guard's decision, on made-up messages: an acknowledgement passes once, to the endpoint
     * of the worker whose reply UCP packed (its worker read from the request as UCX 1.13.1 lays it
     * out, or any worker where the memory is no such request), and only without an interface's
     * address; a pre-request or a message shorter than its header never; an endpoint check only
     * naming an endpoint id the process issued; other messages always.
     */
    @Test
    void onlyAnAwaitedAcknowledgementShouldReachUcp() throws Throwable {
        MethodHandle admits = GuardLibrary.LIBRARY.downcall("memreg_wireup_admits",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        MethodHandle pack = GuardLibrary.LIBRARY.downcall("ucp_wireup_msg_pack",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
        try (Arena arena = Arena.ofConfined(); UcxContext context = UcxContext.create(TcpGuardProbe.TCP);
             UcxWorker worker = UcxWorker.create(context)) {
            long progress = GuardLibrary.ucxFunction(SymbolLookup.libraryLookup("libucp.so.0", arena),
                    "ucp_wireup_msg_progress");
            long a = arena.allocate(8).address(); // workers are only names to the guard
            long b = arena.allocate(8).address();
            MemorySegment ack41 = message(arena, 3, 41, EMPTY_ADDRESS);
            assertEquals(0, (int) admits.invokeExact(a, ack41.address(), ack41.byteSize()), "no reply packed: dropped");
            packReply(arena, pack, 41, progress, a);
            assertEquals(0, (int) admits.invokeExact(b, ack41.address(), ack41.byteSize()), "another worker's");
            assertEquals(1, (int) admits.invokeExact(a, ack41.address(), ack41.byteSize()), "awaited: passes");
            assertEquals(0, (int) admits.invokeExact(a, ack41.address(), ack41.byteSize()), "once");
            packReply(arena, pack, 43, 0, 0); // no request's memory: noted for any worker
            MemorySegment ack43 = message(arena, 3, 43, EMPTY_ADDRESS);
            MemorySegment withAddress = message(arena, 3, 43, ONE_INTERFACE_ADDRESS);
            assertEquals(0, (int) admits.invokeExact(b, withAddress.address(), withAddress.byteSize()),
                    "an interface's address: dropped, awaited or not");
            assertEquals(0, (int) admits.invokeExact(b, ack43.address(), 19L), "shorter than its header");
            assertEquals(1, (int) admits.invokeExact(b, ack43.address(), ack43.byteSize()), "any worker's");
            MemorySegment preRequest = message(arena, 0, 41, new byte[0]);
            assertEquals(0, (int) admits.invokeExact(a, preRequest.address(), preRequest.byteSize()));
            for (int type : new int[] {1, 2, 5}) {
                MemorySegment other = message(arena, type, 41, new byte[0]);
                assertEquals(1, (int) admits.invokeExact(a, other.address(), other.byteSize()), "type " + type);
            }
            MemorySegment madeUpCheck = message(arena, 4, 41, new byte[0]);
            assertEquals(0, (int) admits.invokeExact(a, madeUpCheck.address(), madeUpCheck.byteSize()),
                    "an endpoint check naming an id never issued");
            long endpoints = IdGuard.Log.ENDPOINTS.count();
            long ep = worker.connect(worker.address(), Ucp.ERR_HANDLING_MODE_NONE);
            MemorySegment check = message(arena, 4, IdGuard.Log.ENDPOINTS.get(endpoints), new byte[0]);
            assertEquals(1, (int) admits.invokeExact(a, check.address(), check.byteSize()), "of an id issued");
            UcxTestSupport.complete(worker.closeEndpoint(ep, true), worker);
            packReply(arena, pack, 45, progress, a);
            WireupGuard.workerGone(a);
            MemorySegment ack45 = message(arena, 3, 45, EMPTY_ADDRESS);
            assertEquals(0, (int) admits.invokeExact(a, ack45.address(), ack45.byteSize()), "its worker gone");
        }
    }

    /** UCX's first address format, a uuid, no device: what an acknowledgement carries. */
    private static final byte[] EMPTY_ADDRESS = {0, 1, 2, 3, 4, 5, 6, 7, 8, (byte) 0xff};

    /**
     * UCX's first address format as a wire-up message carries it (each interface with its
     * resource index), a uuid, and one device of one interface of a transport not of this
     * machine: its checksum, overhead 0, bandwidth 10^9 B/s, latency 1 µs, its resource index,
     * and no interface or endpoint address.
     */
    private static final byte[] ONE_INTERFACE_ADDRESS = oneInterfaceAddress();

    private static byte[] oneInterfaceAddress() {
        ByteBuffer b = ByteBuffer.allocate(31).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0).putLong(0x0102030405060708L).put((byte) 0).put((byte) 0x80); // md 0, the last device, no bytes
        b.putShort((short) 0x1357).putFloat(0f).putFloat(1e9f).putFloat(1e-6f).putInt(0).put((byte) 0);
        b.put((byte) 0x80); // the last interface, no address
        return b.array();
    }

    private static MemorySegment message(Arena arena, int type, long destination, byte[] address) {
        MemorySegment m = arena.allocate(20 + address.length);
        m.set(JAVA_BYTE, 0, (byte) type);
        m.set(JAVA_LONG_UNALIGNED, 4, 1L);
        m.set(JAVA_LONG_UNALIGNED, 12, destination);
        MemorySegment.copy(address, 0, m, JAVA_BYTE, 20, address.length);
        return m;
    }

    /**
     * Packs, through the guard's {@code ucp_wireup_msg_pack}, a reply from endpoint {@code id},
     * in a made-up UCP request (UCX 1.13.1: the message at 0xa8, its progress function at 0xe0,
     * its endpoint at 0x18, whose first field is its worker); {@code progress} 0 leaves it none.
     */
    private static void packReply(Arena arena, MethodHandle pack, long id, long progress, long worker)
            throws Throwable {
        MemorySegment request = arena.allocate(512, 8);
        MemorySegment endpoint = arena.allocate(64, 8);
        endpoint.set(JAVA_LONG, 0, worker);
        request.set(JAVA_LONG, 0x18, endpoint.address());
        request.set(JAVA_LONG, 0xe0, progress);
        MemorySegment reply = request.asSlice(0xa8, 20);
        reply.set(JAVA_BYTE, 0, (byte) 2);
        reply.set(JAVA_LONG_UNALIGNED, 4, id);
        MemorySegment iov = arena.allocate(32, 8);
        iov.set(JAVA_LONG, 0, reply.address());
        iov.set(JAVA_LONG, 8, 20L);
        iov.set(JAVA_LONG, 16, reply.address());
        iov.set(JAVA_LONG, 24, 0L);
        MemorySegment dest = arena.allocate(64);
        assertEquals(20L, (long) pack.invokeExact(dest.address(), iov.address()));
        assertEquals(-1L, dest.asSlice(0, 20).mismatch(reply), "UCP's own packing ran");
    }
}
