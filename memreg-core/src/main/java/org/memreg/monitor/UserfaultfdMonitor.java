package org.memreg.monitor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.config.Settings;
import org.memreg.linux.Errno;
import org.memreg.linux.EventFd;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Mman;
import org.memreg.linux.NotAvailableException;
import org.memreg.linux.Poll;
import org.memreg.linux.Scheduling;
import org.memreg.linux.SysConf;
import org.memreg.linux.UffdFeatures;
import org.memreg.linux.UffdMessage;
import org.memreg.linux.Userfaultfd;

/**
 * The user-space VM notifier of shared/seeds/000 on Linux: a userfaultfd that the cache's
 * registered ranges are registered with, a reader thread that reads its UNMAP, REMOVE and REMAP
 * events, and a delivery thread that turns them into invalidations.
 *
 * <p><b>Blocking rules</b> (shared/PLATFORM.md). A thread that munmaps, madvises or mremaps a
 * watched range sleeps in the kernel until the reader has <em>read</em> the event. That thread
 * may be one the JVM waits for before a safepoint can begin (a critical downcall, the JVM's own
 * code freeing memory, a GC thread inside one), and a Java thread must pass that safepoint before
 * it can read: so the reader is a thread of C that never enters Java ({@link NativeUffdReader}),
 * takes no lock and never unmaps. The delivery thread, in Java, passes what it read to the
 * listener, unless a hit that finds events pending at the {@link EventGate} delivers them first;
 * a listener that is slow holds no unmap, only the hits that wait at the gate. The gate is raised
 * before each read so that a woken caller cannot look up its old registration before the event
 * is applied.
 *
 * <p>Ranges are registered in write-protect mode, which brings every event and traps no fault
 * (nothing is ever write-protected); missing mode would trap the first touch of a dropped page,
 * and a JVM thread stuck there while a safepoint begins hangs the JVM, so without write-protect
 * support the monitor is not available. A page-fault message, should one ever come, is answered
 * with the zero page (by the reader) so that no thread waits.
 *
 * <p><b>Watching.</b> Counts are per page; every {@link #watch} registers its range again
 * (idempotent for the same userfaultfd) because an unmapped range has silently lost its kernel
 * registration while its count may still be held by an invalidated, not yet deregistered entry.
 * A range unwatched to zero is unregistered. After a REMAP the kernel keeps the moved range
 * registered; its later events reach the cache as harmless invalidations of nothing.
 *
 * <p><b>What is guaranteed, and the one window that is not closed.</b> The thread that unmaps,
 * and every thread that learns of the unmap from it after munmap returns, never gets the old
 * registration. But the kernel frees the address <em>before</em> it queues the UNMAP event, so
 * another thread may mmap the same address and acquire it while the event is still unread, and
 * hit the old entry: userfaultfd has no "about to unmap" event (madvise has: REMOVE comes first).
 * The reader therefore runs at real-time priority where the process may
 * ({@value #REALTIME_PROP_NAME}); measured here with 2 and 8 threads doing mmap, acquire,
 * munmap in a loop, that took stale hits from 75% and 97% of acquires to 0 of 4,000 and 46 of
 * 16,000. Closing it entirely needs the unmap itself intercepted (as UCX's malloc hooks do) or
 * memory that memreg owns ({@code RegisteredArena}).
 *
 * <p><b>Side effect on the application.</b> Registering a range with userfaultfd splits its
 * mapping where the range ends, and mremap refuses (EFAULT) a range spanning two mappings: an
 * mremap of a whole buffer of which only a part is registered fails (glibc's realloc then falls
 * back to copying).
 */
public final class UserfaultfdMonitor implements MemoryMonitor {
    /**
     * Whether the reader thread asks for real-time scheduling (SCHED_FIFO, where the process may):
     * the sooner it reads an event, the shorter the window in which another thread can reuse the
     * unmapped address before the cache knows (see the class comment). Default true.
     */
    public static final String REALTIME_PROP_NAME = "memreg.monitor.realtime";
    /** Default of {@link #REALTIME_PROP_NAME}. */
    public static final boolean REALTIME_DEFAULT = true;
    /** SCHED_FIFO priority of the delivery thread (the reader in C asks for the same). */
    private static final int REALTIME_PRIORITY = 1;
    /**
     * The delivery thread's poll timeout: a sleeping poll holds the file its descriptor named when
     * it began, so a signal through a descriptor closed or replaced meanwhile would never reach
     * it; each turn looks again, and at the reader's state (the reader in C does the same).
     */
    private static final int HEARTBEAT_MILLIS = 1000;
    /** Strict mode gives up waiting for a pending event after this many tries (the reader died). */
    private static final int MAX_PENDING_SPINS = 1_000_000;

    private final Userfaultfd uffd;
    private final EventFd wakeup;
    private final EventFd ready;
    private final long pageSize = SysConf.pageSize();
    private final NativeUffdReader reader;
    private final ReaderGate gate;
    private final Watches watched = new Watches();
    private final AtomicLong[] eventsByKind = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
    private final AtomicLong watchFailures = new AtomicLong();
    private final AtomicLong deliveryNanosTotal = new AtomicLong();
    private final AtomicLong deliveryNanosMax = new AtomicLong();
    private final AtomicLong strictRefusals = new AtomicLong();
    private final AtomicLong hookFailures = new AtomicLong();
    private final AtomicLong readerFailures = new AtomicLong();
    private final boolean realtime;
    private final boolean strict;
    /** One drain of the reader's ring at a time: the delivery thread's, or a waiter's at the gate. */
    private final ReentrantLock drainLock = new ReentrantLock();
    private volatile boolean closing;
    /** The reader or its delivery failed: the userfaultfd is closed and nothing is watched any more. */
    private volatile boolean failed;
    private Thread delivery;
    private MemoryEventListener listener; // under drainLock, once started
    private final NativeUffdReader.RangeSink sink = this::dispatch; // under drainLock

    private UserfaultfdMonitor(Userfaultfd uffd, EventFd wakeup, EventFd ready, boolean realtime, boolean strict) {
        this.uffd = uffd;
        this.wakeup = wakeup;
        this.ready = ready;
        this.reader = new NativeUffdReader(uffd, wakeup.fd(), ready.fd(), realtime, pageSize);
        this.gate = new ReaderGate(reader.takenCell(), this::deliverTaken);
        this.realtime = realtime;
        this.strict = strict;
    }

    /**
     * Opens the userfaultfd (user-mode only where the kernel allows it) with the UNMAP, REMOVE
     * and REMAP events.
     *
     * @throws MonitorUnavailableException when userfaultfd or those events are not
     *     available here; its reason says why
     */
    public static UserfaultfdMonitor open() {
        return open(Settings.bool(REALTIME_PROP_NAME, REALTIME_DEFAULT));
    }

    /**
     * {@link #open()} with the reader's scheduling chosen here instead of by
     * {@value #REALTIME_PROP_NAME}.
     */
    public static UserfaultfdMonitor open(boolean realtimeReader) {
        return open(realtimeReader, false);
    }

    /**
     * The {@code strict} monitor: this monitor, and on every cache hit a question to the kernel
     * ({@link #confirmHit}). Costs a system call per hit (about 0.4 µs here) and closes the
     * cross-thread window without hooks, for libc and raw system calls alike.
     *
     * @throws MonitorUnavailableException when userfaultfd, its events or
     *     UFFDIO_WRITEPROTECT are not available here
     */
    public static UserfaultfdMonitor openStrict() {
        UserfaultfdMonitor monitor = open(Settings.bool(REALTIME_PROP_NAME, REALTIME_DEFAULT), true);
        int errno = monitor.probeWriteProtect();
        if (errno != 0) {
            monitor.close();
            throw new MonitorUnavailableException("strict monitor",
                    "the kernel refused UFFDIO_WRITEPROTECT on a watched page (" + Errno.name(errno) + ")", errno, null);
        }
        return monitor;
    }

    /** Strict mode's question asked once of a page of our own: 0 when the kernel answers it. */
    private int probeWriteProtect() {
        long page = Mman.mapAnonymous(pageSize);
        try {
            uffd.register(page, pageSize, Userfaultfd.MODE_WP);
            return uffd.tryWriteProtect(page, pageSize, 0);
        } catch (LinuxException e) {
            return e.errno();
        } finally {
            try {
                uffd.unregister(page, pageSize); // or the munmap would wait for a reader not started yet
            } catch (LinuxException notRegistered) {
                // register failed: nothing to undo
            }
            Mman.munmap(page, pageSize);
        }
    }

    private static UserfaultfdMonitor open(boolean realtimeReader, boolean strict) {
        // Write-protect mode only: missing mode would trap the first touch of a dropped page, and
        // a JVM thread faulting there while a safepoint begins hangs the whole JVM.
        if (NativeUffdReader.unavailableReason() != null) {
            throw new MonitorUnavailableException("userfaultfd reader", NativeUffdReader.unavailableReason(), 0, null);
        }
        Userfaultfd uffd;
        try {
            uffd = Userfaultfd.open(UffdFeatures.MONITOR | UffdFeatures.PAGEFAULT_FLAG_WP);
        } catch (NotAvailableException e) {
            throw new MonitorUnavailableException(e.facility(), e.reason(), e.errno(), e);
        }
        EventFd wakeup = null;
        EventFd ready = null;
        try {
            wakeup = EventFd.open();
            ready = EventFd.open();
            return new UserfaultfdMonitor(uffd, wakeup, ready, realtimeReader, strict);
        } catch (RuntimeException e) {
            uffd.close();
            if (wakeup != null) {
                wakeup.close();
            }
            if (ready != null) {
                ready.close();
            }
            if (e instanceof IllegalStateException tooMany) { // no cell left for the gate
                throw new MonitorUnavailableException("userfaultfd reader", tooMany.getMessage(), 0, tooMany);
            }
            throw e;
        }
    }

    @Override
    public String name() {
        return strict ? "strict" : "userfaultfd";
    }

    @Override
    public boolean confirmsHits() {
        return strict;
    }

    /**
     * Strict mode: asks the kernel whether the page at {@code address} is still the memory this
     * userfaultfd watches, with {@code UFFDIO_WRITEPROTECT} in mode 0 (which changes nothing on
     * memory never write-protected). EAGAIN means an unmap, remap or remove of watched memory is
     * under way (the kernel raises that before it changes the mappings and keeps it up until the
     * reader has read the event): wait and ask again. ENOENT means the page is not registered
     * with this userfaultfd, that is, it is a fresh mapping (or was never watched). After the
     * kernel's answer, the reader's gate covers the gap between reading an event and applying it.
     *
     * @return true when the kernel vouches for the page and no event is pending
     */
    @Override
    public boolean confirmHit(long address) {
        for (int spins = 0; ; spins++) {
            int errno;
            try {
                errno = uffd.tryWriteProtect(address, pageSize, 0);
            } catch (IllegalStateException handedOff) {
                errno = Errno.EBADF; // the monitor failed (or closed): its userfaultfd is gone
            }
            if (errno == 0) {
                break;
            }
            if (errno != Errno.EAGAIN || closing || failed || spins == MAX_PENDING_SPINS) {
                strictRefusals.incrementAndGet();
                return false;
            }
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the reader has an event to read; let it
            }
        }
        if (gate.isPending()) {
            gate.awaitDelivery();
        }
        return true;
    }

    /** The eventfd that stops the reader, and the one the reader signals: for tests that break them. */
    int[] eventFds() {
        return new int[] {wakeup.fd(), ready.fd()};
    }

    /** {@code auto} fell back to this monitor because the hooks did not work: counted in its stats. */
    void countHookFailure() {
        hookFailures.incrementAndGet();
    }

    @Override
    public EventGate gate() {
        return gate;
    }

    @Override
    public synchronized void start(MemoryEventListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (delivery != null) {
            throw new IllegalStateException("monitor already started");
        }
        if (closing) {
            throw new IllegalStateException("monitor closed");
        }
        drainLock.lock();
        try {
            this.listener = listener;
        } finally {
            drainLock.unlock();
        }
        reader.start();
        delivery = Thread.ofPlatform().daemon().name("memreg-userfaultfd-delivery").unstarted(this::deliverLoop);
        delivery.start();
    }

    @Override
    public synchronized boolean watch(long address, long length) {
        if (failed) {
            watchFailures.incrementAndGet(); // the cache keeps no such registration
            return false;
        }
        if (closing) {
            return false;
        }
        try {
            uffd.register(address, length, Userfaultfd.MODE_WP);
        } catch (LinuxException e) {
            watchFailures.incrementAndGet(); // not anonymous/shmem memory, or not mapped
            return false;
        }
        watched.add(address, address + length);
        return true;
    }

    @Override
    public synchronized void unwatch(long address, long length) {
        if (closing || failed) {
            return; // everything goes with the descriptor
        }
        List<long[]> gone = watched.remove(address, address + length);
        if (gone == null) {
            return; // never watched: its watch failed
        }
        for (long[] unwatched : gone) {
            try {
                uffd.unregister(unwatched[0], unwatched[1] - unwatched[0]);
            } catch (LinuxException e) {
                // Already unmapped: the kernel dropped the registration with the mapping.
            }
        }
    }

    /**
     * The delivery thread: drains what the reader read, batch by batch, unless a waiter at the
     * gate did first. Never needed for a blocked caller to wake.
     */
    private void deliverLoop() {
        if (realtime) {
            Scheduling.tryRealtime(REALTIME_PRIORITY); // as the reader: the sooner the cache knows, the shorter the window
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfds = Poll.allocate(arena, 1);
            Poll.set(pollfds, 0, ready.fd(), Poll.POLLIN); // close() signals it too
            while (!closing) {
                Poll.poll(pollfds, 1, HEARTBEAT_MILLIS);
                if (closing) {
                    break;
                }
                ready.drain();
                deliverTaken();
                int stoppedBy = reader.stoppedBy();
                if (stoppedBy > 0) {
                    throw new IllegalStateException("the userfaultfd reader thread stopped: " + Errno.name(stoppedBy));
                }
            }
        } catch (RuntimeException | Error e) {
            if (!closing) {
                fail(e);
            }
            gate.close();
        }
    }

    /**
     * The reader or its delivery failed, and memory changes are no longer seen. The reader is
     * stopped and the userfaultfd closed first, for until then every thread that unmaps watched
     * memory sleeps; then every registration is reported suspect, and from now on nothing is
     * watched, so the cache keeps no registration past its release: slower, never stale.
     */
    private void fail(Throwable cause) {
        synchronized (this) {
            failed = true; // watch() answers false from here on
        }
        drainLock.lock(); // no waiter drains meanwhile: the ring goes with the reader
        try {
            signal(wakeup);
            reader.close(); // joins it and closes the userfaultfd: sleeping unmaps return
            deliver(MemoryEventKind.SUSPECT, 0, Long.MAX_VALUE, System.nanoTime());
        } catch (RuntimeException | Error e) {
            cause.addSuppressed(e);
        } finally {
            drainLock.unlock();
        }
        readerFailures.incrementAndGet();
        System.getLogger(UserfaultfdMonitor.class.getName()).log(System.Logger.Level.ERROR,
                "userfaultfd monitor failed: memory changes are no longer seen; every registration was invalidated"
                        + " and none is cached from now on", cause);
    }

    /**
     * Delivers every batch the reader has taken so far, on the calling thread: the delivery
     * thread, or a hit waiting at the gate (which then need not wait for that thread to wake).
     */
    private void deliverTaken() {
        drainLock.lock();
        try {
            if (closing || failed || listener == null) {
                return; // closed or failed: the ring is gone, and the gate lets waiters go
            }
            long batches = reader.awaitWritten();
            if (reader.drain(sink)) { // ranges were lost: everything may have changed
                deliver(MemoryEventKind.SUSPECT, 0, Long.MAX_VALUE, System.nanoTime());
            }
            gate.delivered(batches);
        } finally {
            drainLock.unlock();
        }
    }

    /** A range drained from the reader's ring, under drainLock. */
    private void dispatch(int event, long start, long end, long taken) {
        switch (event) {
            case UffdMessage.EVENT_UNMAP -> deliver(MemoryEventKind.UNMAP, start, end, taken);
            case UffdMessage.EVENT_REMOVE -> deliver(MemoryEventKind.REMOVE, start, end, taken);
            case UffdMessage.EVENT_REMAP -> deliver(MemoryEventKind.REMAP, start, end, taken);
            default -> throw new IllegalStateException("the reader passed on event " + event);
        }
    }

    private void deliver(MemoryEventKind kind, long start, long end, long taken) {
        if (kind != MemoryEventKind.SUSPECT) {
            eventsByKind[kind.ordinal()].incrementAndGet();
        }
        listener.onMemoryEvent(kind, start, end, taken);
        recordDelivery(System.nanoTime() - taken);
    }

    private void recordDelivery(long nanos) {
        deliveryNanosTotal.addAndGet(nanos);
        deliveryNanosMax.accumulateAndGet(nanos, Math::max);
    }

    @Override
    public synchronized MonitorStats stats() {
        long unmaps = eventsByKind[MemoryEventKind.UNMAP.ordinal()].get();
        long removes = eventsByKind[MemoryEventKind.REMOVE.ordinal()].get();
        long remaps = eventsByKind[MemoryEventKind.REMAP.ordinal()].get();
        return new MonitorStats(unmaps + removes + remaps, unmaps, removes, remaps, reader.pageFaults(),
                watched.coveredBytes(), watchFailures.get(), deliveryNanosTotal.get(), deliveryNanosMax.get(),
                0, 0, hookFailures.get(), strictRefusals.get(), reader.overflows(), readerFailures.get());
    }

    /**
     * Stops the delivery thread, then the reader, and closes the userfaultfd (blocked munmap
     * callers are released).
     *
     * <p>The order matters: the delivery thread may free memory on its way out (its arena, the
     * JVM's state of the thread, a deregistration in the listener), glibc may answer a free by
     * trimming pages that a watch still covers, and such a free sleeps until the reader has read
     * its event. So the reader keeps reading until the delivery thread has ended, and from the
     * reader's end to the userfaultfd's close nothing runs in Java ({@link NativeUffdReader#close}).
     */
    @Override
    public void close() {
        Thread toJoin;
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
            toJoin = delivery;
        }
        signal(ready); // wakes the delivery thread, which sees closing; the reader reads on
        if (toJoin != null && toJoin != Thread.currentThread()) {
            joinUninterruptibly(toJoin); // an interrupt must not stop the reader under it
        }
        drainLock.lock(); // no waiter drains any more (closing is set): the ring may go
        try {
            signal(wakeup); // stops the reader (harmless when a failure stopped it already)
            reader.close(); // joins it and closes the userfaultfd in one native call, then frees its ring
        } finally {
            drainLock.unlock();
        }
        gate.close();
        wakeup.close();
        ready.close();
    }

    /**
     * Signals {@code eventFd}. A descriptor someone else closed or replaced cannot be written;
     * its poller (the reader, the delivery thread) then fails on it as well, and ends.
     */
    private static void signal(EventFd eventFd) {
        try {
            eventFd.signal();
        } catch (LinuxException broken) {
            // see above
        }
    }

    private static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
