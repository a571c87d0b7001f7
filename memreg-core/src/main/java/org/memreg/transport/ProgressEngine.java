package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Poll;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxWorker;

/**
 * A node's progress engine: the operations in flight on the worker ({@link Op}) and what drives
 * them: a thread waiting for one of them ({@link Waiters}: the waiter progresses), the progress
 * thread for work nobody waits on (spin, then arm the worker and poll its event descriptor; it
 * steps aside while waiters drive), or the caller through the node's {@code progress()}. Kept
 * apart from the node so that the loop and the sleep/wake race it must get right read in one place.
 *
 * <p>Everything here runs under the node's lock except the progress thread's loop (it takes the
 * lock with {@code tryLock}), {@link #tryProgress()}, {@link #wake()}, {@link #await} and
 * {@link #join()}.
 */
final class ProgressEngine {
    /**
     * Longest time between two polls of every operation when UCX reports no events: for
     * deadlines, cancelled futures, and any completion UCX makes without counting it an event.
     */
    private static final long FULL_POLL_NANOS = 50_000;
    /** Longest sleep of the idle progress thread. */
    private static final int SLEEP_MILLIS = 10;
    /**
     * Longest park of the progress thread while a waiter drives. Each wake-up costs where every
     * core is busy (two peers' drivers on two vCPUs here): waking once a millisecond gave the
     * default configuration 2-4 times the caller mode's stalls back to back (BENCHMARKS.md, issue
     * 14). What must not wait that long unparks it: a driver that leaves with operations
     * outstanding, or another thread adding one while nobody drives ({@link #stayAside}).
     */
    static final long ASIDE_PARK_NANOS = 10_000_000;
    /**
     * Longest a closing node keeps progressing while its operations still make progress, so that
     * transfers UCX has started finish before the worker goes: UCX 1.13 aborts the process when it
     * destroys an endpoint whose single-copy (CMA) transfers are still queued. Rounds without
     * events end it sooner (100 in a row: a peer that does not answer).
     */
    static final long CLOSE_DRAIN_NANOS = 2_000_000_000L;

    private final TransportContext ctx;
    private final UcxWorker worker;
    private final ReentrantLock lock;
    private final List<Op> ops = new ArrayList<>();
    /** Futures whose bytes wait for the owner of their confined memory ({@link ConfinedDelivery}): not work to do. */
    private final List<TransportFuture<?>> awaitingOwner = new ArrayList<>();
    /** How many of {@link #ops} stand for the node's life (the control receive): the rest is work to do. */
    private int standing;
    /** {@code ops.size() - standing}, for drivers leaving (they hold no lock): written under the lock. */
    private final AtomicInteger outstanding = new AtomicInteger();
    /** Run after every worker progress (the connections' endpoint errors); set by {@link #start}. */
    private Runnable afterProgress = () -> { };
    private final Thread progressThread;
    /** How long the progress thread spins without events before it sleeps. */
    private final long idleSpinNanos;
    private final long asideParkNanos;
    /** The wait spin: how long the progress thread stays aside after a driver left. */
    private final long waitSpinNanos;
    /** True while the progress thread parks for as long as a waiter drives ({@link #stayAside}). */
    private volatile boolean parkedAside;
    /** The progress thread was unparked for work outstanding ({@link #recall}); it parks one wait spin next. */
    private volatile boolean recalled;
    /** The worker's event descriptor the idle progress thread sleeps on, or -1 (it parks instead). */
    private final int eventFd;
    private final MemorySegment pollFd;
    /** True while the progress thread is about to sleep or sleeps: threads that add work wake it. */
    private volatile boolean sleeping;
    /** An operation was added since the last poll of all of them (it may have completed at once). */
    private boolean added;
    private long lastFullPoll;
    /** Rounds without events since the clock was last read. */
    private int emptyRounds;
    /** True while the operations are polled; {@link #roundNow} is their time, 0 until one asks. */
    private boolean inRound;
    private long roundNow;
    /** The threads waiting for this node's futures, one of which may drive. */
    final Waiters waiters;
    /** Completions of lent futures waiting for their arena's hold to end: the node's close waits for them. */
    final HeldCompletions heldCompletions = new HeldCompletions();

    /** The engine of {@code ctx}'s worker; the progress thread waits for {@link #start}. */
    ProgressEngine(TransportContext ctx, boolean progressThread, long idleSpinNanos, long waitSpinNanos,
            long asideParkNanos, String name) {
        this.ctx = ctx;
        this.idleSpinNanos = idleSpinNanos;
        this.asideParkNanos = asideParkNanos;
        this.waitSpinNanos = waitSpinNanos;
        this.waiters = new Waiters(this, waitSpinNanos);
        this.worker = ctx.worker;
        this.lock = ctx.lock;
        this.eventFd = progressThread ? worker.eventFd() : -1;
        this.pollFd = Poll.allocate(ctx.arena, 1);
        if (eventFd >= 0) {
            Poll.set(pollFd, 0, eventFd, Poll.POLLIN);
        }
        this.progressThread = progressThread
                ? Thread.ofPlatform().daemon().name("memreg-progress-" + name).unstarted(this::progressLoop)
                : null;
    }

    /**
     * Takes the node's standing {@code control} receives and what to do after every worker
     * progress, then starts the progress thread, if there is one: the last step of building the node.
     */
    void start(List<Op> control, Runnable afterProgress) {
        ops.addAll(control);
        standing = control.size();
        this.afterProgress = afterProgress;
        if (progressThread != null) {
            progressThread.start();
        }
    }

    boolean hasThread() {
        return progressThread != null;
    }

    /**
     * Adds an operation to poll (under the lock); brings the progress thread back from its park
     * aside when nobody drives and the caller is not the thread that drove last (that one will
     * likely wait, and drive, again: a ping-pong would wake the thread once a message).
     */
    void add(Op op) {
        ops.add(op);
        added = true;
        outstanding.set(ops.size() - standing); // volatile: before the look at the driver below
        waiters.workArrived();
        if (parkedAside && waiters.noDriverExpected(Thread.currentThread())) {
            recall();
        }
    }

    /**
     * A driver left with its future done: the progress thread, parked aside, comes back if
     * operations are outstanding (it then takes over after the wait spin, unless a waiter
     * drives again). Called after the driver slot is cleared.
     */
    void driverLeft() {
        if (parkedAside && outstanding.get() > 0) {
            recall();
        }
    }

    /**
     * Brings the progress thread back from its park aside, to look again after one wait spin. The
     * flag goes down at once, so that the drivers leaving before the thread wakes do not unpark it
     * again (a system call each while it still parks).
     */
    private void recall() {
        parkedAside = false;
        recalled = true;
        resumeThread();
    }

    /** True while the progress thread parks aside for a driver, for tests. */
    boolean parkedAside() {
        return parkedAside;
    }

    /** A node's future: waiting on it drives the worker ({@link Waiters}). */
    <T> TransportFuture<T> newFuture() {
        return new TransportFuture<>(waiters, heldCompletions);
    }

    /**
     * One progress round for a waiting thread, if the lock is free and the node open: the number
     * of UCX events, else 0.
     */
    int tryProgress() {
        if (!lock.tryLock()) {
            return 0;
        }
        try {
            return ctx.closed ? 0 : progressLocked(false);
        } finally {
            lock.unlock(); // no wake: the progress thread is aside while a waiter drives
        }
    }

    /**
     * True when {@code thread} must not drive as a waiter: it is the progress thread. (A thread
     * inside progress never gets this far: {@link Waiters#await} refuses it first, {@link #insideProgress}.)
     */
    boolean cannotDrive(Thread thread) {
        return thread == progressThread;
    }

    /** A driver went idle: the progress thread takes over now rather than after its park. */
    void resumeThread() {
        if (progressThread != null) {
            LockSupport.unpark(progressThread);
        }
    }

    /**
     * True when this thread holds the node's lock: it runs a progress round (a completion stage
     * of one of the node's futures runs inside it) or is inside the node's own code. Then no
     * other thread can progress the node, and this one must not start a round inside its own.
     */
    boolean insideProgress() {
        return lock.isHeldByCurrentThread();
    }

    /** Throws {@link IllegalStateException} when this thread runs the node's progress: {@code what} cannot be done there. */
    void outsideProgress(String what) {
        if (insideProgress()) {
            throw new IllegalStateException(insideProgressMessage(what));
        }
    }

    /** What a thread that may not wait or progress is told ({@link #insideProgress}). */
    static String insideProgressMessage(String what) {
        return what + " inside the node's progress (this thread runs it: a completion stage of one of the node's"
                + " futures runs inside it), where nothing of the node can finish: do it from another thread, for"
                + " example in an async stage (thenRunAsync)";
    }

    /** The node's {@code progress()}: progresses once unless the node is closed. */
    int progress() {
        if (insideProgress()) {
            throw new IllegalStateException(insideProgressMessage("Node.progress()"));
        }
        lock.lock();
        try {
            return ctx.closed ? 0 : progressLocked(false);
        } finally {
            ctx.unlockAndWake();
        }
    }

    /**
     * Progresses the worker, then polls the operations, but only when something can have changed:
     * UCX progressed events, an operation was added, {@code full} is asked, or
     * {@value #FULL_POLL_NANOS} ns passed (the clock is read every 32nd empty round). An empty
     * round is what a spinning caller repeats until a message arrives; the shorter it is, the
     * sooner the message is seen: testing every posted receive on each one cost a downcall each.
     */
    private int progressLocked(boolean full) {
        assert lock.isHeldByCurrentThread() : "the worker is progressed under the node's lock only";
        int events = worker.progress();
        afterProgress.run();
        if (events > 0) {
            waiters.workArrived();
        }
        if (events == 0 && !added && !full && (++emptyRounds & 31) != 0) {
            return 0;
        }
        if (events == 0) { // else the round goes on without a clock read: most rounds with events need none
            long now = System.nanoTime();
            if (!added && !full && now - lastFullPoll < FULL_POLL_NANOS) {
                return 0;
            }
            lastFullPoll = now;
        }
        added = false;
        inRound = true;
        roundNow = 0;
        try {
            pollAll();
        } finally {
            inRound = false;
        }
        return events;
    }

    /**
     * The time for an operation's deadline: during a round, read at the first call and the same
     * for the rest of the round (a completed eager message needs none); outside, now.
     */
    long now() {
        if (!inRound) {
            return System.nanoTime();
        }
        if (roundNow == 0) {
            roundNow = System.nanoTime();
        }
        return roundNow;
    }

    /** The operations not finished with UCX (under the lock): for tests that look for leaks. */
    int operations() {
        return ops.size();
    }

    /**
     * Looks after {@code future}, whose bytes wait for the owner of their memory (under the lock):
     * each round fails it once the owner closed the memory's arena, and the node's close fails it.
     */
    void awaitOwner(TransportFuture<?> future) {
        awaitingOwner.add(future);
    }

    /**
     * Looks at {@link #awaitOwner}'s futures, failing each with {@code closing} if not null; from a
     * copy of the list, for a failed future's stages may add to it.
     */
    private void lookAfterOwners(TransportException closing) {
        List<TransportFuture<?>> looking = new ArrayList<>(awaitingOwner);
        awaitingOwner.clear();
        for (TransportFuture<?> future : looking) {
            if (!future.settledUnlessOwnerLooks(closing)) {
                awaitingOwner.add(future);
            }
        }
    }

    private void pollAll() {
        if (!awaitingOwner.isEmpty()) {
            lookAfterOwners(null);
        }
        int before = ops.size();
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            boolean done;
            try {
                done = op.poll(ctx);
            } catch (RuntimeException | Error e) { // a bug must fail one operation, not stop progress
                done = true;
                try {
                    op.abort(ctx, new TransportException("internal error in " + op.getClass().getSimpleName(), e));
                } catch (RuntimeException ignored) {
                    // the operation is dropped either way
                }
            }
            if (done) {
                int last = ops.size() - 1;
                ops.set(i, ops.get(last));
                ops.remove(last);
                i--;
            }
        }
        if (ops.size() != before) {
            outstanding.lazySet(ops.size() - standing); // a stale, higher count costs a spurious wake-up only
        }
    }

    private void progressLoop() {
        long idleSince = System.nanoTime();
        while (!ctx.closed) {
            long aside = waiters.asideNanos(System.nanoTime());
            if (aside > 0) { // waiters drive: stay out of their way (lock and CPU)
                stayAside(aside);
                idleSince = System.nanoTime();
                continue;
            }
            int events = 0;
            if (lock.tryLock()) {
                try {
                    if (!ctx.closed) {
                        events = progressLocked(false);
                    }
                } finally {
                    ctx.unlockAndWake();
                }
            }
            if (events > 0) {
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince > idleSpinNanos) {
                sleepUntilEvent(); // idle: give the CPU back (2 vCPUs here); sleeps again until events
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * Parks the progress thread for {@code aside} (at most {@link #asideParkNanos}); while a
     * waiter drives ({@code aside} unbounded), until a driver leaves work behind or work is added
     * by a thread that did not drive last ({@link #driverLeft}, {@link #add}). The flag goes up
     * before the second look at the driver, and a leaving driver clears its slot before it looks
     * at the flag (both volatile): one of the two sees the other. A thread that drove, left with
     * nothing outstanding and then adds work it never waits for leaves that work for the end of
     * the park.
     *
     * <p>Once recalled, the thread parks one wait spin whether or not a waiter drives again:
     * drivers that keep work outstanding (receives posted ahead) and come back at once would
     * otherwise recall it at every message. So it looks once per wait spin there, and once per
     * {@link #asideParkNanos} where drivers leave nothing behind.
     */
    private void stayAside(long aside) {
        if (aside != Long.MAX_VALUE || recalled) { // back when a driver's wait spin is over
            recalled = false;
            LockSupport.parkNanos(this, Math.min(aside == Long.MAX_VALUE ? waitSpinNanos : aside, asideParkNanos));
            return;
        }
        parkedAside = true;
        try {
            if (waiters.driving()) {
                LockSupport.parkNanos(this, asideParkNanos);
            }
        } finally {
            parkedAside = false;
        }
    }

    /**
     * The idle progress thread sleeps until UCX has an event (the worker armed, then poll on its
     * event descriptor) or another thread adds work ({@link #wake()}), at most
     * {@value #SLEEP_MILLIS} ms so that deadlines are checked. Parking 50 µs instead cost up to
     * ~100 µs per message when both peers were idle. Without an event descriptor it parks.
     */
    private void sleepUntilEvent() {
        if (eventFd < 0) {
            LockSupport.parkNanos(50_000);
            return;
        }
        sleeping = true; // before arming: work added after the arm sees it and signals
        try {
            boolean armed = false;
            lock.lock();
            try {
                armed = !ctx.closed && progressLocked(true) == 0 && worker.arm() == Ucp.OK;
            } finally {
                lock.unlock();
            }
            if (armed && !ctx.closed) {
                Poll.poll(pollFd, 1, SLEEP_MILLIS);
            }
        } catch (LinuxException e) {
            LockSupport.parkNanos(50_000);
        } finally {
            sleeping = false;
        }
    }

    /** Wakes the progress thread when it sleeps: called after adding work outside of progress. */
    void wake() {
        if (sleeping && !ctx.closed) { // close() joins the thread before the worker goes: it sleeps no more then
            worker.signal();
        }
    }

    /**
     * Waits for {@code future} up to {@code nanos}, driving the worker while it waits
     * ({@link Waiters}); fails when the time passes or {@code endpoint} (if any) fails.
     */
    <T> T await(CompletableFuture<T> future, long nanos, Endpoint endpoint) {
        int outcome = waiters.await(future, true, System.nanoTime() + nanos, true, endpoint);
        if (outcome == Waiters.INSIDE_PROGRESS && !future.isDone()) {
            throw new TransportException(insideProgressMessage("a wait"), Ucp.ERR_BUSY);
        }
        try {
            if (outcome == Waiters.INTERRUPTED) {
                throw new InterruptedException();
            }
            if (!future.isDone()) {
                if (outcome == Waiters.FAILED) {
                    throw endpoint.failure;
                }
                throw new TransportException("timed out", Ucp.ERR_TIMED_OUT);
            }
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof TransportException t ? t : new TransportException("failed", e.getCause());
        }
    }

    /**
     * True when no operation is left with work in UCX: only standing operations remain, each with
     * nothing in flight ({@link Op#settled}).
     */
    private boolean settled() {
        for (Op op : ops) {
            if (!op.settled()) {
                return false;
            }
        }
        return true;
    }

    /** Waits up to 5 s for the progress thread to see the node closed and stop (no lock held). */
    void join() {
        if (progressThread != null) {
            LockSupport.unpark(progressThread); // it may be parked aside for waiters
            try {
                progressThread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Closing (under the lock, the thread stopped): aborts every operation, lets UCX finish them
     * (100 rounds, then on while some still have work in UCX and rounds have events, up to
     * {@link #CLOSE_DRAIN_NANOS}),
     * hands back to UCX the requests of those that did not finish, and drops them. Returns those:
     * once the worker is gone, the node tells each ({@link Op#closed}).
     */
    List<Op> abortAll(TransportException closing) {
        for (Op op : ops) {
            op.abort(ctx, closing);
        }
        long deadline = System.nanoTime() + CLOSE_DRAIN_NANOS;
        int quiet = 0;
        for (int i = 0; i < 100 || (!settled() && quiet < 100 && System.nanoTime() - deadline < 0); i++) {
            quiet = progressLocked(true) > 0 ? 0 : quiet + 1;
        }
        lookAfterOwners(closing);
        List<Op> released = new ArrayList<>(ops);
        for (Op op : released) { // still waiting for a peer: their requests go back to UCX before the worker goes
            op.release();
        }
        ops.clear();
        outstanding.set(0);
        return released;
    }
}
