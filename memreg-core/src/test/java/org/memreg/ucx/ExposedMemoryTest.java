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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;

/**
 * A peer over TCP reaches only memory exposed to peers ({@link ExposedMemory}): memory whose remote
 * key was packed, as its remote rights allow, until it is unmapped. Before, UCX's TCP transport
 * let a peer with any key put into and get from any address of the node's.
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

    @Test
    void aPeerShouldPutAndGetOnlyWhereAndAsMemoryIsExposed() {
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker victim = UcxWorker.create(context);
             UcxMemory window = context.allocate(2 * PAGE, LOCAL | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE);
             UcxMemory readOnly = context.allocate(PAGE, LOCAL | Ucp.PROT_REMOTE_READ);
             UcxMemory writeOnly = context.allocate(PAGE, LOCAL | Ucp.PROT_REMOTE_WRITE);
             Arena arena = Arena.ofConfined()) {
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
            long writesRefused = TcpGuard.framesRefused(FrameFault.UNEXPOSED_WRITE);
            long readsRefused = TcpGuard.framesRefused(FrameFault.UNEXPOSED_READ);

            ChildJvm peer = attack(victim, key, List.of(
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
            assertEquals(5, TcpGuard.framesRefused(FrameFault.UNEXPOSED_WRITE) - writesRefused, "puts refused");
            assertEquals(2, TcpGuard.framesRefused(FrameFault.UNEXPOSED_READ) - readsRefused, "gets refused");
            servesOn(context, victim, arena);
            mappedOnly.close();
        }
    }

    /** The victim still takes a message from a worker that sends one. */
    private static void servesOn(UcxContext context, UcxWorker victim, Arena arena) {
        try (UcxWorker friend = UcxWorker.create(context)) {
            long ep = friend.connect(victim.address(), Ucp.ERR_HANDLING_MODE_PEER);
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

    /** Runs ExposureAttacker with ops against victim, which this thread progresses meanwhile. */
    private static ChildJvm attack(UcxWorker victim, byte[] key, List<String> ops) {
        List<String> args = new ArrayList<>(List.of(HexFormat.of().formatHex(victim.address()),
                HexFormat.of().formatHex(key)));
        args.addAll(ops);
        return UcxTestSupport.runAgainst(victim, ExposureAttacker.class, args.toArray(String[]::new));
    }
}
