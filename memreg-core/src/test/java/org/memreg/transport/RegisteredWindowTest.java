package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.device.Access;
import org.memreg.linux.Mman;
import org.memreg.testkit.LogCapture;
import org.memreg.ucx.UcxTestSupport;

/** Windows over memory the caller owns ({@link Node#registerWindow}): RMA, close, bad input. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RegisteredWindowTest {
    private static final long BYTES = 256 << 10;

    @Test
    void putAndGetShouldReachCallerOwnedAnonymousMemoryWhichOutlivesTheWindow() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = System.nanoTime();
        System.out.println("RegisteredWindowTest seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        long at = Mman.mmap(0, BYTES, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
        MemorySegment owned = MemorySegment.ofAddress(at).reinterpret(BYTES);
        try (Node server = Node.builder().name("server").ucx("NET_DEVICES", "lo")
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = Node.builder().name("client").ucx("NET_DEVICES", "lo").build();
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = client.connect("127.0.0.1", server.port());
            Window window = server.registerWindow(owned, Access.ALL);
            assertEquals(at, window.segment().address(), "the window is the caller's memory, not a copy");
            assertEquals(BYTES, window.size());
            RemoteWindow remote = endpoint.attach(window.key());

            MemorySegment out = arena.allocate(BYTES, 8);
            for (long i = 0; i < BYTES; i += 8) {
                out.set(JAVA_LONG, i, random.nextLong());
            }
            for (int round = 0; round < 50; round++) {
                long offset = random.nextLong(BYTES / 8) * 8;
                long length = 8 * (1 + random.nextLong((BYTES - offset) / 8));
                remote.put(offset, out.asSlice(offset, length)).get(20, TimeUnit.SECONDS);
                remote.flush().get(20, TimeUnit.SECONDS);
                assertEquals(-1, owned.asSlice(offset, length).mismatch(out.asSlice(offset, length)),
                        "put of " + length + " bytes at " + offset);
                MemorySegment in = arena.allocate(length, 8);
                remote.get(offset, in).get(20, TimeUnit.SECONDS);
                assertEquals(-1, in.mismatch(out.asSlice(offset, length)), "get of " + length + " at " + offset);
            }

            window.close();
            owned.set(JAVA_LONG, 0, 42); // still mapped: closing unregistered it and left the memory
            assertEquals(42, owned.get(JAVA_LONG, 0));
            ExecutionException stale = assertThrows(ExecutionException.class,
                    () -> remote.put(0, out.asSlice(0, 8)).get(20, TimeUnit.SECONDS));
            assertInstanceOf(StaleWindowException.class, stale.getCause());
            assertEquals(42, owned.get(JAVA_LONG, 0), "the refused put wrote nothing");
        } finally {
            Mman.munmap(at, BYTES);
        }
    }

    /**
     * A peer that does not acknowledge the revocation of a registered window's key (it does not
     * progress) could still land a put it issued before in the caller's memory, which stays
     * mapped after the close: the close says so. A peer that acknowledges leaves nothing to say.
     */
    @ParameterizedTest(name = "the peer progresses: {0}")
    @ValueSource(booleans = {true, false})
    void aCloseShouldReportAPeerThatDidNotAcknowledgeTheRevocation(boolean progresses) throws Exception {
        UcxTestSupport.assumeUcx();
        try (LogCapture log = LogCapture.of(Node.class);
             Node owner = GoodPeer.loopback("owner").timeout(Duration.ofSeconds(1))
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node peer = GoodPeer.loopback("peer").progressThread(progresses).build();
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = peer.connect("127.0.0.1", owner.port()); // its wait drives the peer
            Window window = owner.registerWindow(arena.allocate(4096, 4096), Access.ALL);
            endpoint.attach(window.key()); // so does this one; then nothing does, without the thread
            window.close();
            String warned = "did not acknowledge the revocation of generation 1 of window " + String.format("%016x",
                    window.id());
            assertEquals(!progresses, log.text().contains(warned), log.text());
        }
    }

    /**
     * Over shared memory without CMA (SysV alone), UCX moves a put to a registered window as a
     * software put, an active message naming the raw address, which the owner's UCP copies there
     * without a look at any key. A peer that has not yet read the revocation (it does not
     * progress) still holds a good key in its own eyes: its put after the close reached the
     * memory, which the caller may have freed by then (the JVM died, SIGSEGV, in a run of the
     * chaos probe). Now the owner's guard drops a software put outside exposed memory.
     */
    @Test
    void aPutFromAPeerThatHasNotSeenTheRevocationShouldNotLandAfterTheClose() throws Exception {
        UcxTestSupport.assumeUcx();
        try (Arena arena = Arena.ofShared(); // closed last: the late put holds it until its node closes
             Node owner = GoodPeer.loopback("owner").ucx("TLS", "sysv").errorMode(ErrorMode.NONE)
                     .timeout(Duration.ofMillis(300)).listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node peer = GoodPeer.loopback("peer").ucx("TLS", "sysv").errorMode(ErrorMode.NONE).progressThread(false)
                     .build()) {
            Endpoint endpoint = peer.connect("127.0.0.1", owner.port());
            MemorySegment memory = arena.allocate(4096, 4096);
            Window window = owner.registerWindow(memory, Access.ALL);
            RemoteWindow remote = endpoint.attach(window.key());
            MemorySegment bytes = arena.allocate(64).fill((byte) 0x5a);
            remote.put(0, bytes).get(20, TimeUnit.SECONDS);
            remote.flush().get(20, TimeUnit.SECONDS); // the put completes once its data is out; the flush, once it is in
            assertEquals(-1, memory.asSlice(0, 64).mismatch(bytes), "a put while the window is open lands");
            memory.fill((byte) 0);
            window.close(); // the peer does not progress: no acknowledgement, the close goes on at the timeout
            long refused = UcxTestSupport.softwarePutsRefused();
            remote.put(0, bytes);
            for (int i = 0; i < 200 && UcxTestSupport.softwarePutsRefused() == refused; i++) {
                Thread.sleep(10); // until the owner's progress thread has had it
            }
            assertEquals(-1, memory.mismatch(arena.allocate(4096)), "the late put landed in the closed window's memory");
            assertEquals(refused + 1, UcxTestSupport.softwarePutsRefused(), "the owner refused it");
        }
    }

    /**
     * A caller may keep only the window: memory of an automatic arena must live while the window
     * is registered, for peers put into it. Before, the window held a view of the address alone,
     * the GC freed the caller's memory under the open window, and a peer's put landed in freed
     * memory (SIGSEGV on the owner's progress thread, in a run of the chaos probe with callers that
     * kept every buffer they still used). The memory here is the test's own, seen through an
     * automatic arena whose cleanup says when the GC let it go.
     */
    @Test
    void aWindowShouldKeepItsCallersMemoryAliveUntilItCloses() throws Exception {
        UcxTestSupport.assumeUcx();
        AtomicBoolean freed = new AtomicBoolean();
        try (Node owner = GoodPeer.loopback("owner").build(); Arena memory = Arena.ofShared()) {
            long address = memory.allocate(4096, 4096).address();
            Window window = owner.registerWindow(registered(address, freed), Access.ALL);
            for (int i = 0; i < 20 && !freed.get(); i++) {
                System.gc();
                Thread.sleep(20);
            }
            assertFalse(freed.get(), "the GC let the memory of an open window go");
            window.close();
        }
    }

    /** {@code address}'s page as a segment of an automatic arena that sets {@code freed} once the GC lets it go. */
    @SuppressWarnings("restricted")
    private static MemorySegment registered(long address, AtomicBoolean freed) {
        return MemorySegment.ofAddress(address).reinterpret(4096, Arena.ofAuto(), segment -> freed.set(true));
    }

    @Test
    void shouldRefuseMemoryThatIsNotNativeOrNotWholePages() {
        UcxTestSupport.assumeUcx();
        try (Node node = Node.builder().name("node").ucx("NET_DEVICES", "lo").build()) {
            assertThrows(IllegalArgumentException.class,
                    () -> node.registerWindow(MemorySegment.ofArray(new byte[4096]), Access.ALL));
            assertThrows(IllegalArgumentException.class, () -> node.registerWindow(MemorySegment.NULL, Access.ALL));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment pages = arena.allocate(3 * 4096, 4096);
                IllegalArgumentException partial = assertThrows(IllegalArgumentException.class,
                        () -> node.registerWindow(pages.asSlice(100, 4096), Access.ALL));
                assertTrue(partial.getMessage().contains("whole pages"), partial.getMessage());
                assertThrows(IllegalArgumentException.class, () -> node.registerWindow(pages.asSlice(0, 5000), Access.ALL));
            }
            node.close();
            try (Arena arena = Arena.ofShared()) {
                MemorySegment memory = arena.allocate(4096, 4096);
                assertThrows(IllegalStateException.class, () -> node.registerWindow(memory, Access.ALL));
            } // and the refused registration left the arena unheld
        }
    }

    /**
     * Peers put into and get from a registered window whenever they like, so its memory's arena
     * must outlive the window: a shared one is held open until the window closes (its close
     * throws meanwhile), and a confined one, whose owner may close it at any moment, is refused.
     * Before, a caller's close of the arena under an open window left peers' puts landing in
     * freed memory.
     */
    @Test
    void aWindowsArenaShouldNotCloseBeforeTheWindow() {
        UcxTestSupport.assumeUcx();
        try (Node node = Node.builder().name("node").ucx("NET_DEVICES", "lo").build()) {
            Arena arena = Arena.ofShared();
            Window window = node.registerWindow(arena.allocate(4096, 4096), Access.ALL);
            IllegalStateException refused = assertThrows(IllegalStateException.class, arena::close,
                    "the arena closed under its open window");
            assertTrue(refused.getMessage().contains("acquired"), refused.getMessage());
            window.close();
            arena.close(); // at once: the window's close ended the hold
            try (Arena confined = Arena.ofConfined()) {
                IllegalArgumentException mine = assertThrows(IllegalArgumentException.class,
                        () -> node.registerWindow(confined.allocate(4096, 4096), Access.ALL));
                assertTrue(mine.getMessage().contains("confined"), mine.getMessage());
            }
        }
    }
}
