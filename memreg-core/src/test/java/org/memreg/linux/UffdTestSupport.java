package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;

/** Helpers for userfaultfd tests: a worker thread with bounded joins, bounded event waits. */
final class UffdTestSupport {
    static final long PAGE = SysConf.pageSize();
    static final long WAIT_MILLIS = 5_000;

    // Touch memory from native code: a thread blocked on a userfault inside Java code would hold
    // up every safepoint (and so the reader answering it); in native code it does not.
    private static final MethodHandle MEMSET = Native.call("memset",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG));
    private static final MethodHandle STRNLEN = Native.call("strnlen",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));

    private UffdTestSupport() {
    }

    /** Maps {@code pages} private anonymous pages, populated (written) unless {@code populate} is false. */
    static long map(long pages, boolean populate) {
        return Mman.mmap(0, pages * PAGE, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | (populate ? Mman.MAP_POPULATE : 0), -1, 0);
    }

    /** Writes {@code value} to one byte at {@code address}, from native code. */
    static void nativeWrite(long address, int value) {
        try {
            long ignored = (long) MEMSET.invokeExact(address, value, 1L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Reads one byte at {@code address} from native code: 0 when it is zero, else 1. */
    static long nativeReadNonZero(long address) {
        try {
            return (long) STRNLEN.invokeExact(address, 1L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Polls the userfaultfd and reads events into {@code buffer} until at least one arrives or
     * {@code millis} pass; returns how many were read (0: none in time).
     */
    static int awaitEvents(Userfaultfd uffd, MemorySegment buffer, long millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = Poll.allocate(arena, 1);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            while (true) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return uffd.readEvents(buffer);
                }
                Poll.set(fds, 0, uffd.fd(), Poll.POLLIN);
                if (Poll.poll(fds, 1, (int) Math.min(left, 100)) > 0) {
                    int count = uffd.readEvents(buffer);
                    if (count > 0) {
                        return count;
                    }
                }
            }
        }
    }

    /** Waits until the userfaultfd has an event to read, without reading it. */
    static boolean awaitReadable(Userfaultfd uffd, long millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = Poll.allocate(arena, 1);
            Poll.set(fds, 0, uffd.fd(), Poll.POLLIN);
            return Poll.poll(fds, 1, (int) millis) == 1 && (Poll.revents(fds, 0) & Poll.POLLIN) != 0;
        }
    }

    /** A daemon thread running one action, keeping what it threw, joined with a bound. */
    static final class Worker {
        private final Thread thread;
        private volatile Throwable failure;

        Worker(String name, Runnable action) {
            thread = Thread.ofPlatform().daemon().name(name).unstarted(() -> {
                try {
                    action.run();
                } catch (Throwable t) {
                    failure = t;
                }
            });
            thread.start();
        }

        boolean isAlive() {
            return thread.isAlive();
        }

        /** Joins for at most {@code millis}; true when the thread finished. Never throws. */
        boolean finished(long millis) {
            try {
                return thread.join(java.time.Duration.ofMillis(millis));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        /** Joins for at most {@code millis}; true when the thread finished (rethrows its failure). */
        boolean join(long millis) throws InterruptedException {
            boolean done = thread.join(java.time.Duration.ofMillis(millis));
            if (done && failure != null) {
                throw new AssertionError(thread.getName() + " failed", failure);
            }
            return done;
        }
    }
}
