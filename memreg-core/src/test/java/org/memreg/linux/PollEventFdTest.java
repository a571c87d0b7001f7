package org.memreg.linux;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.memreg.linux.UffdTestSupport.Worker;

class PollEventFdTest {

    @Test
    void shouldWakeABlockedPollFromAnotherThread() throws Exception {
        try (EventFd wake = EventFd.open(); EventFd idle = EventFd.open(); Arena arena = Arena.ofShared()) {
            MemorySegment fds = Poll.allocate(arena, 2);
            Poll.set(fds, 0, idle.fd(), Poll.POLLIN);
            Poll.set(fds, 1, wake.fd(), Poll.POLLIN);
            AtomicInteger ready = new AtomicInteger(-1);
            Worker poller = new Worker("poller", () -> ready.set(Poll.poll(fds, 2, 10_000)));
            assertFalse(poller.join(200), "poll blocks while nothing is signalled");
            long before = System.nanoTime();
            wake.signal();
            assertTrue(poller.join(5_000), "signal woke the poller");
            System.out.printf("poll woke %d µs after signal%n", (System.nanoTime() - before) / 1000);
            assertEquals(1, ready.get());
            assertEquals(0, Poll.revents(fds, 0));
            assertEquals(Poll.POLLIN, Poll.revents(fds, 1));
            assertEquals(wake.fd(), Poll.fd(fds, 1));
            assertEquals(1, wake.drain());
        }
    }

    @Test
    void shouldCountSignalsUntilDrainedAndTimeOutWhenQuiet() {
        try (EventFd eventFd = EventFd.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment fds = Poll.allocate(arena, 1);
            Poll.set(fds, 0, eventFd.fd(), Poll.POLLIN);
            assertEquals(0, Poll.poll(fds, 1, 0), "nothing yet");
            assertEquals(0, eventFd.drain());
            eventFd.signal();
            eventFd.signal();
            eventFd.signal();
            assertEquals(1, Poll.poll(fds, 1, 0));
            assertEquals(3, eventFd.drain());
            long start = System.nanoTime();
            assertEquals(0, Poll.poll(fds, 1, 50), "drained: readable no more");
            assertTrue(System.nanoTime() - start >= 40_000_000L, "waited for the timeout");
        }
    }

    @Test
    void shouldReportAClosedDescriptorAsPollnval() {
        EventFd eventFd = EventFd.open();
        int fd = eventFd.fd();
        eventFd.close();
        assertDoesNotThrow(eventFd::close, "closing twice is harmless");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = Poll.allocate(arena, 1);
            Poll.set(fds, 0, fd, Poll.POLLIN);
            // Nothing else in this test opens descriptors, but the JVM might reuse the number.
            int ready = Poll.poll(fds, 1, 0);
            if (ready == 1 && Poll.revents(fds, 0) != Poll.POLLNVAL) {
                return; // reused by someone else meanwhile: nothing to check
            }
            assertEquals(1, ready);
            assertEquals(Poll.POLLNVAL, Poll.revents(fds, 0));
        }
    }

    @Test
    void shouldRefuseHeapSegmentsAndShortArrays() {
        assertThrows(IllegalArgumentException.class,
                () -> Poll.poll(MemorySegment.ofArray(new byte[8]), 1, 0));
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> Poll.poll(Poll.allocate(arena, 1), 2, 0));
        }
    }

    @Test
    void shouldReportAUserfaultfdEventAsPollin() throws Exception {
        long page = SysConf.pageSize();
        long address = UffdTestSupport.map(1, true);
        Userfaultfd uffd = Userfaultfd.open();
        try (EventFd stop = EventFd.open(); Arena arena = Arena.ofConfined()) {
            uffd.register(address, page, Userfaultfd.MODE_WP);
            MemorySegment fds = Poll.allocate(arena, 2);
            Poll.set(fds, 0, stop.fd(), Poll.POLLIN);
            Poll.set(fds, 1, uffd.fd(), Poll.POLLIN);
            assertEquals(0, Poll.poll(fds, 2, 0));
            Worker unmapper = new Worker("unmapper", () -> Mman.munmap(address, page));
            assertEquals(1, Poll.poll(fds, 2, 5_000));
            assertEquals(Poll.POLLIN, Poll.revents(fds, 1));
            assertEquals(1, uffd.readEvents(UffdMessage.allocate(arena, 1)));
            assertTrue(unmapper.join(5_000));
        } finally {
            uffd.close();
        }
    }
}
