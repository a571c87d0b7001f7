package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * A peer reaches only memory exposed to peers ({@link ExposedMemory}): memory whose remote key was
 * packed, as its remote rights allow, until it is unmapped; over TCP (UCT's put, UCP's software put
 * and get: the TCP guard resets the connection) and over SysV shared memory without CMA (UCP's
 * software put and get: the guard in front of their handlers drops them). Before, either let a
 * peer with any key put into and get from any address of the node's.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ExposedMemoryTest {
    private static final int PAGE = 4096;
    private static final int LOCAL = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE;
    private static final String LANDED = "Success/Success";
    private static final String SIXTEEN_X = "X".repeat(16);

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @ParameterizedTest(name = "over {0}")
    @ValueSource(strings = {"tcp", "sysv"})
    void aPeerShouldPutAndGetOnlyWhereAndAsMemoryIsExposed(String transport) {
        boolean tcp = transport.equals("tcp");
        try (Arena arena = Arena.ofConfined();
             UcxContext context = UcxContext.create(tcp ? TcpGuardProbe.TCP : Map.of("TLS", transport));
             UcxWorker victim = UcxWorker.create(context);
             UcxMemory window = memory(tcp, context, arena, 2 * PAGE, LOCAL | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE);
             UcxMemory readOnly = memory(tcp, context, arena, PAGE, LOCAL | Ucp.PROT_REMOTE_READ);
             UcxMemory writeOnly = memory(tcp, context, arena, PAGE, LOCAL | Ucp.PROT_REMOTE_WRITE)) {
            MemorySegment secret = fill(arena.allocate(PAGE, PAGE), 's');
            MemorySegment unmapped = fill(arena.allocate(PAGE, PAGE), 'g');
            try (UcxMemory gone = context.map(unmapped.address(), PAGE, 0)) {
                gone.packRkey(); // exposed, then unmapped
            }
            MemorySegment keyless = fill(arena.allocate(PAGE, PAGE), 'k');
            UcxMemory mappedOnly = context.map(keyless.address(), PAGE, 0); // mapped, its key never packed
            fill(window.segment(), 'w');
            fill(readOnly.segment(), 'r');
            fill(writeOnly.segment(), 'o');
            byte[] key = window.packRkey();
            readOnly.packRkey();
            writeOnly.packRkey();
            long windowEnd = window.address() + window.length();
            LongSupplier writes = tcp ? () -> TcpGuard.framesRefused(FrameFault.UNEXPOSED_WRITE)
                    : ExposedMemory::softwarePutsRefused;
            LongSupplier reads = tcp ? () -> TcpGuard.framesRefused(FrameFault.UNEXPOSED_READ)
                    : ExposedMemory::softwareGetsRefused;
            long writesRefused = writes.getAsLong();
            long readsRefused = reads.getAsLong();

            ChildJvm peer = attack(tcp ? List.of() : List.of("tls=" + transport), victim, key, List.of(
                    "put:" + (window.address() + 100) + ":16",
                    "put:" + secret.address() + ":16",
                    "put:" + readOnly.address() + ":16",
                    "put:" + (windowEnd - 8) + ":16", // runs past the window's end
                    "put:" + unmapped.address() + ":16",
                    "put:" + keyless.address() + ":16",
                    "put:" + (writeOnly.address() + 8) + ":16",
                    "get:" + (window.address() + 100) + ":16",
                    "get:" + secret.address() + ":16",
                    "get:" + writeOnly.address() + ":16",
                    "get:" + readOnly.address() + ":16"));

            assertEquals(LANDED, peer.text("op0"), "a put into the window: " + peer.lines());
            assertEquals(SIXTEEN_X, text(window.segment().asSlice(100, 16)));
            for (int op = 1; op <= 5; op++) {
                assertNotEquals(LANDED, peer.text("op" + op), "op" + op + " refused: " + peer.lines());
            }
            assertEquals("s".repeat(PAGE), text(secret), "memory never exposed: untouched");
            assertEquals("r".repeat(PAGE), text(readOnly.segment()), "read-only window: untouched");
            assertEquals("w".repeat(8), text(window.segment().asSlice(window.length() - 8, 8)),
                    "a put past the window's end lands nowhere, in it neither");
            assertEquals("g".repeat(PAGE), text(unmapped), "unmapped: untouched");
            assertEquals("k".repeat(PAGE), text(keyless), "mapped, key never packed: untouched");
            assertEquals(LANDED, peer.text("op6"), "a put into a write-only window");
            assertEquals(SIXTEEN_X, text(writeOnly.segment().asSlice(8, 16)));
            assertEquals(LANDED, peer.text("op7"), "a get from the window");
            assertEquals(SIXTEEN_X, peer.text("data7"));
            assertNotEquals(LANDED, peer.text("op8"), "a get of memory never exposed refused");
            assertEquals("\0".repeat(16), peer.text("data8"), "nothing of it arrived");
            assertNotEquals(LANDED, peer.text("op9"), "a get from a write-only window refused");
            assertEquals("\0".repeat(16), peer.text("data9"));
            assertEquals(LANDED, peer.text("op10"), "a get from a read-only window");
            assertEquals("r".repeat(16), peer.text("data10"));
            assertEquals(5, writes.getAsLong() - writesRefused, "puts refused");
            assertEquals(2, reads.getAsLong() - readsRefused, "gets refused");
            servesOn(context, victim, arena, tcp ? Ucp.ERR_HANDLING_MODE_PEER : Ucp.ERR_HANDLING_MODE_NONE);
            mappedOnly.close();
        }
    }

    /**
     * Memory for a peer to reach: UCX's own over TCP; over shared memory the caller's, mapped (a
     * peer reaches UCX's own SysV memory through its own mapping of the segment, not the victim).
     */
    private static UcxMemory memory(boolean tcp, UcxContext context, Arena arena, long length, int prot) {
        return tcp ? context.allocate(length, prot) : context.map(arena.allocate(length, PAGE).address(), length, prot);
    }

    /** The victim still takes a message from a worker that sends one. */
    private static void servesOn(UcxContext context, UcxWorker victim, Arena arena, int errorMode) {
        try (UcxWorker friend = UcxWorker.create(context)) {
            long ep = friend.connect(victim.address(), errorMode);
            MemorySegment message = arena.allocateFrom("served");
            MemorySegment inbox = arena.allocate(message.byteSize());
            UcxTestSupport.sendAndReceive(friend, ep, victim, message, inbox, 7);
            assertEquals("served", inbox.getString(0));
            UcxTestSupport.complete(friend.closeEndpoint(ep, true), friend, victim);
        }
    }

    private static MemorySegment fill(MemorySegment segment, char c) {
        return segment.fill((byte) c);
    }

    private static String text(MemorySegment segment) {
        return new String(segment.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
    }

    /** Runs ExposureAttacker with options and ops against victim, which this thread progresses meanwhile. */
    private static ChildJvm attack(List<String> options, UcxWorker victim, byte[] key, List<String> ops) {
        List<String> args = new ArrayList<>(options);
        args.addAll(List.of(HexFormat.of().formatHex(victim.address()), HexFormat.of().formatHex(key)));
        args.addAll(ops);
        return UcxTestSupport.runAgainst(victim, ExposureAttacker.class, args.toArray(String[]::new));
    }
}
