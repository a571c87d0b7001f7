package org.memreg.transport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.linux.SysvShm;
import org.memreg.testkit.Unprivileged;

/**
 * A peer's window read and written in place ({@link RemoteWindow#mapped}): the same memory as the
 * owner's, no copy, within the key's access, and out of reach of Java code from the moment the key
 * is revoked or its endpoint or node closes (the segment ends before UCX detaches the memory, so
 * no access can touch memory that went).
 */
@Unprivileged
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MappedWindowTest {
    private static final long BYTES = 1 << 20;
    private LoopbackPair pair;

    @AfterEach
    void close() {
        if (pair != null) {
            pair.close();
        }
    }

    private MemorySegment mappedWindow(Window window) {
        Optional<MemorySegment> mapped = pair.endpoint().attach(window.key()).mapped();
        assertTrue(mapped.isPresent(), "the owner runs on this host and UCX allocated its window: it can be mapped");
        return mapped.get();
    }

    @Test
    void aWindowOnThisHostShouldBeTheOwnersMemoryWithinItsKeysAccess() {
        pair = LoopbackPair.connect(b -> b);
        Window readable = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        MemorySegment seen = mappedWindow(readable);
        assertEquals(readable.size(), seen.byteSize());
        readable.segment().set(JAVA_LONG, BYTES - 8, 0x600dL);
        assertEquals(0x600dL, seen.get(JAVA_LONG, BYTES - 8), "the owner's write, seen where it lies");
        assertTrue(seen.isReadOnly(), "the key grants reading only");
        assertThrows(RuntimeException.class, () -> seen.set(JAVA_LONG, 0, 1L));
        assertEquals(0, readable.segment().get(JAVA_LONG, 0));
        assertTrue(seen == pair.endpoint().attach(readable.key()).mapped().orElseThrow(), "one segment per key");

        Window writable = pair.server().allocateWindow(BYTES, Access.ALL);
        MemorySegment written = mappedWindow(writable);
        written.set(JAVA_LONG, 4096, 0xfeedL);
        assertEquals(0xfeedL, writable.segment().get(JAVA_LONG, 4096), "a write in place is the owner's at once");

        Window writeOnly = pair.server().allocateWindow(BYTES, Access.REMOTE_WRITE);
        RemoteWindow toWriteOnly = pair.endpoint().attach(writeOnly.key());
        assertThrows(UnsupportedOperationException.class, toWriteOnly::mapped, "a mapping can be read");
    }

    @Test
    void aRevokedKeysMappingShouldEndBeforeTheOwnerHearsBack() throws Exception {
        pair = LoopbackPair.connect(b -> b);
        Window window = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        RemoteWindow remote = pair.endpoint().attach(window.key());
        int shmid = SysvShm.idOf(window.segment().address());
        MemorySegment seen = remote.mapped().orElseThrow();
        long at = seen.address();
        assertEquals(shmid, SysvShm.idOf(at), "the node attaches the owner's segment itself");
        window.invalidate(); // returns once every peer acknowledged the revocation
        assertFalse(seen.scope().isAlive(), "the peer acknowledged with the revoked key's memory still in reach");
        assertEquals(-1, SysvShm.idOf(at), "the revoked key's segment stayed attached");
        assertThrows(IllegalStateException.class, () -> seen.get(JAVA_LONG, 0));
        assertThrows(StaleWindowException.class, remote::mapped);
        MemorySegment again = pair.endpoint().attach(window.key()).mapped().orElseThrow();
        window.segment().set(JAVA_LONG, 64, 7L);
        assertEquals(7L, again.get(JAVA_LONG, 64), "the next generation's key maps it again");
        window.close();
        assertFalse(again.scope().isAlive(), "closing the window revokes its key");
    }

    @Test
    void closingTheEndpointOrTheNodeShouldEndItsMappings() throws Exception {
        pair = LoopbackPair.connect(b -> b);
        Window window = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        MemorySegment viaFirst = mappedWindow(window);
        pair.endpoint().close();
        assertFalse(viaFirst.scope().isAlive(), "the endpoint closed with its key's memory still in reach");

        Endpoint second = pair.client().connect("127.0.0.1", pair.server().port());
        MemorySegment viaSecond = second.attach(window.key()).mapped().orElseThrow();
        pair.client().close();
        assertFalse(viaSecond.scope().isAlive(), "the node closed with its keys' memory still in reach");
        assertThrows(IllegalStateException.class, () -> viaSecond.get(JAVA_LONG, 0));
    }

    @Test
    void memoryThatUcxDidNotAllocateOrAnotherTransportShouldNotBeMapped() throws Exception {
        pair = LoopbackPair.connect(b -> b);
        long page = SysConf.pageSize();
        long own = Mman.mmap(0, 16 * page, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
        try (Window registered = pair.server().registerWindow(ownMemory(own, 16 * page), Access.REMOTE_READ)) {
            assertEquals(Optional.empty(), pair.endpoint().attach(registered.key()).mapped(),
                    "the owner's own memory is reached by cross-memory attach, not mapped");
        } finally {
            Mman.munmap(own, 16 * page);
        }
        pair.close();
        pair = LoopbackPair.connect(b -> b.ucx("TLS", "tcp"));
        Window window = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        assertEquals(-1, SysvShm.idOf(window.segment().address()), "without shared memory UCX allocates no SysV segment");
        assertEquals(Optional.empty(), pair.endpoint().attach(window.key()).mapped(), "over TCP alone");
    }

    /**
     * An owner that describes a segment smaller than its key's window (another's segment, or a
     * lie about the length) is refused: mapped as long as the key says, reads past the segment's
     * end would fault. Nothing stays attached.
     */
    @Test
    void aSegmentSmallerThanTheWindowShouldBeRefused() throws Exception {
        pair = LoopbackPair.connect(b -> b);
        Window window = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        Window small = pair.server().allocateWindow(64 << 10, Access.REMOTE_READ);
        int smallId = SysvShm.idOf(small.segment().address());
        RemoteWindow real = pair.endpoint().attach(window.key());
        RemoteWindow lying = new RemoteWindow(pair.endpoint(), window.key(), real.rkey, smallId);
        long attachedBefore = attachments(smallId);
        TransportException refused = assertThrows(TransportException.class, lying::mapped);
        assertTrue(refused.getMessage().contains("holds 65536 bytes, not the window's 1048576"), refused.getMessage());
        assertEquals(attachedBefore, attachments(smallId), "the refused segment stayed attached");
        assertTrue(real.mapped().isPresent(), "the true description maps");
    }

    /**
     * An owner that describes a segment backed by huge pages (here one with no page reserved, as
     * SHM_NORESERVE makes it, on a machine with an empty pool: the first read faults with SIGBUS)
     * gets no mapping: hugetlb gives a removed page back to no one. Nothing stays attached, and
     * asking again attaches nothing either. Creating such a segment needs CAP_IPC_LOCK.
     */
    @Test
    void aSegmentOfHugePagesShouldNotBeMapped() throws Throwable {
        pair = LoopbackPair.connect(b -> b);
        Window window = pair.server().allocateWindow(BYTES, Access.REMOTE_READ);
        int hugeId = hugeSegmentWithoutReservation(2 * BYTES);
        assumeTrue(hugeId >= 0, "creating a hugetlb segment needs CAP_IPC_LOCK (or hugetlb_shm_group)");
        try {
            RemoteWindow real = pair.endpoint().attach(window.key());
            RemoteWindow lying = new RemoteWindow(pair.endpoint(), window.key(), real.rkey, hugeId);
            assertEquals(Optional.empty(), lying.mapped(), "a hugetlb segment was mapped");
            assertEquals(0, attachments(hugeId), "the refused segment stayed attached");
            assertEquals(Optional.empty(), lying.mapped());
            assertEquals(0, attachments(hugeId), "asking again attached it again");
            assertTrue(real.mapped().isPresent(), "the true description maps");
        } finally {
            int removed = (int) SHMCTL.invokeExact(hugeId, 0 /* IPC_RMID */, MemorySegment.NULL);
            assertEquals(0, removed, "the test segment removed");
        }
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SHMGET = LINKER.downcallHandle(LINKER.defaultLookup().find("shmget").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SHMCTL = LINKER.downcallHandle(LINKER.defaultLookup().find("shmctl").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    /** A private SysV segment of huge pages with none reserved (SHM_HUGETLB | SHM_NORESERVE), or -1. */
    private static int hugeSegmentWithoutReservation(long bytes) throws Throwable {
        int ipcCreat = 01000, shmHugetlb = 04000, shmNoreserve = 010000;
        return (int) SHMGET.invokeExact(0 /* IPC_PRIVATE */, bytes, ipcCreat | 0600 | shmHugetlb | shmNoreserve);
    }

    /** The mappings of SysV segment {@code shmid} in this process. */
    private static long attachments(int shmid) throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(line -> line.contains("/SYSV") && line.split("\\s+")[4].equals(Integer.toString(shmid))).count();
    }

    @SuppressWarnings("restricted")
    private static MemorySegment ownMemory(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }
}
