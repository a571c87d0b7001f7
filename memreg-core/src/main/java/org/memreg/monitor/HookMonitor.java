package org.memreg.monitor;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.ucx.Ucp;

/**
 * Hears of an unmap <em>before</em> it happens: a small C handler of memreg's
 * ({@code src/main/native/memreg_hooks.c}) on OpenUCX's memory hooks (UCM,
 * {@code UCM_EVENT_VM_UNMAPPED}), which run before libc's munmap, mremap, madvise(DONTNEED, FREE,
 * REMOVE), brk/sbrk, shmdt and mmap(MAP_FIXED) do anything. The handler runs on the unmapping
 * thread, JVM GC and VM threads included, so it never calls Java and never allocates: it checks
 * the range against a table of watched 2 MiB granules kept in native memory, puts an overlapping
 * range into a bounded lock-free ring and release-increments a sequence. The cache compares that
 * sequence with the one it has applied on every hit ({@link #gate()}); when they differ the hit
 * drains the ring, invalidates, and only then looks up.
 *
 * <p><b>Why a hit cannot see the old registration.</b> Thread A unmaps a registered range; thread
 * B maps new memory and gets the same address. The kernel hands B that address only after A's
 * unmap took the mmap lock, which A's handler ran before: the handler's writes (ring slot, then
 * sequence, then a full fence) precede A's system call, and the mmap lock orders A's call before
 * B's mmap, so B's acquire load of the sequence sees the increment and B takes the slow path. The
 * same holds for any thread B learns of the address from. A registration made while an unmap of
 * its range is in flight is caught by the cache's check after registering (the sequence read
 * again, the ring drained, its range compared).
 *
 * <p><b>What it does not see.</b> Unmaps that bypass libc: a raw {@code syscall(SYS_munmap)},
 * io_uring, the kernel itself; use {@code hooks+userfaultfd} to catch those after the fact. An
 * unmap that has begun before a range was watched and ends after it was registered (the
 * application freeing memory while registering it). Hooks that another library has overridden:
 * a {@link HookCheck} probes them every second and reports the loss (log, {@link
 * MonitorStats#hookFailures()}), treating every registration as changed.
 *
 * <p><b>Costs.</b> The handler runs for every unmap in the process (the JVM's own too: heap
 * uncommits, thread stacks); an unwatched range costs a few table loads. A full ring (2,048
 * ranges not yet drained) raises an overflow flag: the next hit invalidates every registration
 * ({@link MonitorStats#hookOverflows()}). UCM itself is process-wide and stays installed once
 * loaded; its malloc hooks are kept off ({@code org.memreg.ucx.UcxLibraries}).
 */
public final class HookMonitor implements MemoryMonitor {
    private final HookState state;
    private final HookGate gate;
    private final HookCheck check;
    private final ReentrantLock drainLock = new ReentrantLock();
    private final Watches watched = new Watches();
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong deliveryNanosTotal = new AtomicLong();
    private final AtomicLong deliveryNanosMax = new AtomicLong();
    private volatile long overflowsAtClose;
    private volatile long callsAtClose;
    private volatile MemoryEventListener listener;
    private volatile boolean closed;

    private HookMonitor(HookState state, HookCheck check) {
        this.state = state;
        this.check = check;
        this.gate = new HookGate(this, state.sequenceCell());
    }

    /**
     * Installs a handler on UCM's hooks (loading OpenUCX and memreg's handler library first).
     *
     * @throws MonitorUnavailableException when OpenUCX or the handler library is missing, UCM's events
     *     are turned off, or the hooks do not reach the handler (the reason says which)
     */
    public static HookMonitor open() {
        HookCheck check;
        try {
            check = HookCheck.get();
        } catch (IllegalStateException e) {
            throw unavailable(e.getMessage());
        }
        String failure = check.failure();
        if (failure != null) {
            throw unavailable(failure);
        }
        HookState state;
        try {
            state = new HookState();
        } catch (IllegalStateException e) {
            throw unavailable(e.getMessage());
        }
        String refused = state.install();
        if (refused != null) {
            state.close();
            throw unavailable(refused);
        }
        HookMonitor monitor = new HookMonitor(state, check);
        check.register(monitor);
        return monitor;
    }

    private static MonitorUnavailableException unavailable(String reason) {
        return new MonitorUnavailableException("memory hooks", reason, 0, null);
    }

    /**
     * Checks now, for the whole process, that libc's munmap, mremap and madvise still reach
     * memreg's handler; the same check runs every {@value HookCheck#PERIOD_PROP_NAME} ms while
     * a monitor is open.
     *
     * @return null when they do, else what failed
     * @throws MonitorUnavailableException when the hooks cannot be used here at all
     */
    public static String checkHooks() {
        try {
            return HookCheck.get().checkNow();
        } catch (IllegalStateException e) {
            throw unavailable(e.getMessage());
        }
    }

    /**
     * What installing the hooks costs the rest of this process beyond time, or empty: with UCX
     * before 1.15 (Debian 12 ships 1.13.1), UCM's mremap hook drops the new address of
     * {@code mremap(MREMAP_FIXED)} through libc, so such a call moves the mapping to an address
     * of chance or fails (UCX commit 5a9565d; memreg's own {@code Mman.mremap} goes around it).
     */
    public static Optional<String> caveat() {
        if (!Ucp.isAvailable()) {
            return Optional.empty();
        }
        String version = Ucp.version();
        String[] parts = version.split("\\.");
        boolean fixed = Integer.parseInt(parts[0]) > 1 || Integer.parseInt(parts[1]) >= 15;
        return fixed ? Optional.empty() : Optional.of("UCX " + version + "'s hooks break libc mremap(MREMAP_FIXED)"
                + " in this process (fixed in UCX 1.15)");
    }

    @Override
    public String name() {
        return "hooks";
    }

    @Override
    public EventGate gate() {
        return gate;
    }

    @Override
    public void start(MemoryEventListener listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    @Override
    public synchronized boolean watch(long address, long length) {
        if (closed) {
            return false;
        }
        state.addWatch(address, address + length, 1);
        watched.add(address, address + length);
        return true;
    }

    @Override
    public synchronized void unwatch(long address, long length) {
        if (!closed && watched.remove(address, address + length) != null) {
            state.addWatch(address, address + length, -1);
        }
    }

    /** Applies every range published so far, on the calling thread (one thread at a time). */
    void drain() {
        drainLock.lock();
        try {
            MemoryEventListener target = listener;
            if (closed || target == null) {
                return;
            }
            long taken = System.nanoTime();
            long sequence = state.drain((start, end) -> {
                events.incrementAndGet();
                target.onMemoryEvent(end == Long.MAX_VALUE ? MemoryEventKind.SUSPECT : MemoryEventKind.UNMAPPING,
                        start, end, taken);
            });
            long nanos = System.nanoTime() - taken;
            gate.applied(sequence); // after the invalidations: a hit that reads it finds them done
            deliveryNanosTotal.addAndGet(nanos);
            deliveryNanosMax.accumulateAndGet(nanos, Math::max);
        } finally {
            drainLock.unlock();
        }
    }

    /** From {@link HookCheck}: the hooks were lost (or work again); either way, trust nothing cached. */
    void hooksChanged(boolean lost) {
        if (lost) {
            failures.incrementAndGet();
        }
        synchronized (this) { // never meets the close's free: that would interrupt this thread (NativeUffdReader#pageFaults)
            if (!closed) {
                state.raiseSuspect();
            }
        }
    }

    /** How often the handler ran for this monitor, for any unmap in the process (final once closed). */
    public synchronized long handlerCalls() {
        return closed ? callsAtClose : state.calls();
    }

    @Override
    public synchronized MonitorStats stats() {
        long delivered = events.get();
        return new MonitorStats(delivered, 0, 0, 0, 0, watched.coveredBytes(), 0, deliveryNanosTotal.get(),
                deliveryNanosMax.get(), delivered, closed ? overflowsAtClose : state.overflows(), failures.get(), 0, 0, 0);
    }

    /** Removes the handler (no thread runs it afterwards) and frees its memory; twice is harmless. */
    @Override
    public void close() {
        check.unregister(this);
        drainLock.lock();
        try {
            synchronized (this) {
                if (closed) {
                    return;
                }
                overflowsAtClose = state.overflows();
                callsAtClose = state.calls();
                closed = true;
            }
            state.close();
        } finally {
            drainLock.unlock();
        }
    }
}
