package org.memreg.linux;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.linux.UffdTestSupport.PAGE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.Unprivileged;

/** Opening, the API handshake, registration modes and misuse; events are in UserfaultfdEventsTest. */
@Unprivileged
class UserfaultfdTest {

    @Test
    void shouldOpenUserModeOnlyAndEnableTheMonitorFeatures() {
        Userfaultfd.Probe probe = Userfaultfd.probe();
        System.out.println("userfaultfd probe: " + probe);
        assertTrue(probe.available(), probe.reason());
        try (Userfaultfd uffd = Userfaultfd.open()) {
            assertTrue(uffd.fd() >= 0);
            assertTrue(uffd.userModeOnly(), "UFFD_USER_MODE_ONLY works on Linux 5.11+ for everyone");
            assertEquals(UffdFeatures.MONITOR, uffd.features());
            assertEquals(UffdFeatures.MONITOR, uffd.kernelFeatures() & UffdFeatures.MONITOR,
                    UffdFeatures.featureNames(uffd.kernelFeatures()));
            assertTrue(uffd.ioctls() < 0, "the API ioctl (bit 63) is reported");
            assertEquals(0b11, uffd.ioctls() & 0b11, "REGISTER and UNREGISTER are reported");
            assertEquals("REGISTER|UNREGISTER|API", UffdFeatures.ioctlNames(uffd.ioctls()));
        }
    }

    @Test
    void shouldAcceptTheMonitorFeaturesTogetherWithWriteProtect() {
        long monitor = UffdFeatures.MONITOR | UffdFeatures.PAGEFAULT_FLAG_WP; // what UserfaultfdMonitor asks for
        long kernel;
        try (Userfaultfd uffd = Userfaultfd.open(monitor)) {
            assertEquals(monitor, uffd.features());
            assertEquals(monitor, uffd.kernelFeatures() & monitor);
            kernel = uffd.kernelFeatures();
        }
        // WP_UNPOPULATED came with Linux 6.4: taken where the kernel has it, refused saying so where not (6.1).
        long features = monitor | UffdFeatures.WP_UNPOPULATED;
        if ((kernel & UffdFeatures.WP_UNPOPULATED) != 0) {
            try (Userfaultfd uffd = Userfaultfd.open(features)) {
                assertEquals(features, uffd.features());
            }
        } else {
            NotAvailableException e = assertThrows(NotAvailableException.class, () -> Userfaultfd.open(features));
            assertTrue(e.reason().startsWith("the kernel lacks the features WP_UNPOPULATED (it has "), e.reason());
            System.out.println("Linux " + System.getProperty("os.version") + " lacks WP_UNPOPULATED: " + e.reason());
        }
    }

    @Test
    void shouldExplainAFeatureTheKernelLacks() {
        long bogus = 1L << 62;
        NotAvailableException e = assertThrows(NotAvailableException.class,
                () -> Userfaultfd.open(UffdFeatures.MONITOR | bogus));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("userfaultfd", e.facility());
        assertTrue(e.reason().startsWith("the kernel lacks the features bit62 (it has "), e.reason());
        Userfaultfd.Probe probe = Userfaultfd.probe(bogus);
        assertFalse(probe.available());
        assertTrue(probe.toString().startsWith("not available: the kernel lacks"), probe.toString());
    }

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Userfaultfd.MODE_MISSING, Userfaultfd.MODE_WP,
        Userfaultfd.MODE_MISSING | Userfaultfd.MODE_WP})
    void shouldRegisterAnonymousMemory(int mode) {
        long address = UffdTestSupport.map(4, true);
        try (Userfaultfd uffd = Userfaultfd.open()) {
            long ioctls = uffd.register(address, 4 * PAGE, mode);
            System.out.println("mode " + mode + " on anonymous memory: range ioctls "
                    + UffdFeatures.ioctlNames(ioctls));
            assertNotEquals(0, ioctls & UffdFeatures.IOCTL_WAKE);
            assertNotEquals(0, ioctls & UffdFeatures.IOCTL_ZEROPAGE);
            assertEquals((mode & Userfaultfd.MODE_WP) != 0, (ioctls & UffdFeatures.IOCTL_WRITEPROTECT) != 0);
            LinuxException busy = assertThrows(LinuxException.class, () -> {
                try (Userfaultfd other = Userfaultfd.open()) {
                    other.register(address, PAGE, mode);
                }
            });
            assertEquals(Errno.EBUSY, busy.errno(), "one userfaultfd per range");
            uffd.unregister(address, 4 * PAGE);
            uffd.unregister(address, 4 * PAGE); // unregistered ranges are ignored
        } finally {
            Mman.munmap(address, 4 * PAGE);
        }
    }

    @Test
    void shouldRefuseMinorModeAndRangesWithoutMemory() {
        long address = UffdTestSupport.map(2, true);
        try (Userfaultfd uffd = Userfaultfd.open()) {
            LinuxException minor = assertThrows(LinuxException.class,
                    () -> uffd.register(address, 2 * PAGE, Userfaultfd.MODE_MINOR));
            assertEquals(Errno.EINVAL, minor.errno(), "MINOR is for shmem and hugetlbfs only");
            assertTrue(minor.getMessage().contains("UFFDIO_REGISTER"), minor.getMessage());
            assertEquals(Errno.EINVAL, assertThrows(LinuxException.class,
                    () -> uffd.register(address + 1, PAGE, Userfaultfd.MODE_WP)).errno());
            Mman.munmap(address + PAGE, PAGE);
            assertEquals(Errno.EINVAL, assertThrows(LinuxException.class,
                    () -> uffd.register(address + PAGE, PAGE, Userfaultfd.MODE_WP)).errno(), "nothing mapped");
            // Linux 6.18 skips holes inside the range (older kernels gave ENOMEM).
            assertNotEquals(0, uffd.register(address, 2 * PAGE, Userfaultfd.MODE_WP));
        } finally {
            Mman.munmap(address, 2 * PAGE);
        }
    }

    @Test
    void shouldReadNothingWhenNoEventIsPending() {
        try (Userfaultfd uffd = Userfaultfd.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = UffdMessage.allocate(arena, 4);
            assertEquals(0, uffd.readEvents(buffer));
            assertThrows(IllegalArgumentException.class, () -> uffd.readEvents(buffer.asSlice(0, 31)));
            assertThrows(IllegalArgumentException.class, () -> uffd.readEvents(MemorySegment.ofArray(new byte[64])));
        }
    }

    @Test
    void shouldCloseTwiceHarmlesslyAndRefuseUseAfterClose() {
        Userfaultfd uffd = Userfaultfd.open();
        uffd.close();
        assertDoesNotThrow(uffd::close);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = UffdMessage.allocate(arena, 1);
            assertThrows(IllegalStateException.class, () -> uffd.readEvents(buffer));
            assertThrows(IllegalStateException.class, () -> uffd.register(0, PAGE, Userfaultfd.MODE_WP));
            assertThrows(IllegalStateException.class, () -> uffd.wake(0, PAGE));
        }
    }

    @Test
    void shouldHandTheDescriptorOffOnceAndNeverCloseItAfter() throws Exception {
        Userfaultfd uffd = Userfaultfd.open();
        int fd = uffd.handOff();
        assertEquals(uffd.fd(), fd);
        assertEquals(-1, uffd.handOff(), "handed off once");
        uffd.close();
        Path link = Path.of("/proc/self/fd/" + fd);
        assertEquals("anon_inode:[userfaultfd]", Files.readSymbolicLink(link).toString(), "close() left it open");
        assertThrows(IllegalStateException.class, () -> uffd.register(0, PAGE, Userfaultfd.MODE_WP));
        assertEquals(0, Fd.close(fd));
        Userfaultfd closed = Userfaultfd.open();
        closed.close();
        assertEquals(-1, closed.handOff(), "a closed descriptor is not handed off");
    }

    @Test
    void shouldExplainWhyTheSyscallIsRefused() {
        String nosys = UffdDiagnosis.openFailure(Errno.ENOSYS, Errno.ENOSYS);
        assertTrue(nosys.startsWith("the kernel has no userfaultfd syscall (built without CONFIG_USERFAULTFD)"), nosys);
        String eperm = UffdDiagnosis.openFailure(Errno.EINVAL, Errno.EPERM);
        assertTrue(eperm.contains("vm.unprivileged_userfaultfd=1 (here " + UffdFeatures.unprivilegedSysctl() + ")"),
                eperm);
        assertTrue(eperm.endsWith("userfaultfd(UFFD_USER_MODE_ONLY) gave EINVAL, userfaultfd(0) gave EPERM"), eperm);
        assertEquals(Errno.EPERM, new NotAvailableException("userfaultfd", "userfaultfd", Errno.EPERM, eperm).errno());
    }

    @Test
    void shouldNameFeaturesAndEvents() {
        assertEquals("EVENT_REMAP|EVENT_REMOVE|EVENT_UNMAP|THREAD_ID",
                UffdFeatures.featureNames(UffdFeatures.MONITOR));
        assertEquals("none", UffdFeatures.featureNames(0));
        assertEquals("MOVE|bit17", UffdFeatures.featureNames(3L << 16));
        assertEquals("UNMAP", UffdMessage.eventName(UffdMessage.EVENT_UNMAP));
        assertEquals("event 0x1", UffdMessage.eventName(1));
    }
}
