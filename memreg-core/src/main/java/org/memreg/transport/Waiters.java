package org.memreg.transport;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.memreg.util.ArenaHold;

/**
 * Threads blocked on a node's futures, and which of them drives the worker: the waiter
 * progresses, so that a message travels from UCX to the thread that wants it without a hand-off.
 *
 * <p>One waiter at a time is the <em>driver</em> (a slot taken with a CAS): it runs progress
 * rounds under the node's lock ({@link ProgressEngine#tryProgress()}), spinning, until its future
 * is done, then hands the slot to the next waiter. Other waiters park until their future
 * completes ({@link TransportFuture} wakes them) or the slot is handed to them. A driver that sees
 * no event for its spin (the wait spin, {@code memreg.transport.waitSpinMicros}, lengthened while
 * waiters give up just before their message comes: {@link #adapt}) gives the worker back to
 * the progress thread, which sleeps on the worker's event descriptor, and parks; the node counts
 * as idle then, and later waiters park at once until an operation is added or an event arrives
 * (a thread that polls a future with short timeouts does not spin each time).
 *
 * <p>The progress thread steps aside while drivers come and go ({@link #asideNanos}): it parks
 * instead of competing for the lock and the CPU while a waiter drives and for one to two wait
 * spins after the last one drove (a caller that waits, works a millisecond and waits again keeps
 * the worker to itself: with the thread taking over in such gaps, 1-5% of round trips took 3-4 ms
 * here, the two threads of a process and the peer's driver sharing two cores), and takes over at
 * once when a driver goes idle. Without a progress thread a waiter drives until its future is
 * done: nobody else would.
 */
final class Waiters {
    static final int DONE = 0;
    static final int TIMED_OUT = 1;
    static final int INTERRUPTED = 2;
    static final int FAILED = 3;
    private static final int IDLE = 4;
    /** The waiting thread runs the node's progress (a completion stage): nothing can complete the future. */
    static final int INSIDE_PROGRESS = 5;
    /** Longest park of a waiter between checks of its deadline (completion and hand-off unpark it sooner). */
    private static final long PARK_NANOS = 1_000_000;
    /** Longest driver spin, in wait spins. */
    static final int MAX_SPIN_FACTOR = 8;
    private static final VarHandle DRIVER;
    private static final VarHandle DRIVES;

    static {
        try {
            DRIVER = MethodHandles.lookup().findVarHandle(Waiters.class, "driver", Thread.class);
            DRIVES = MethodHandles.lookup().findVarHandle(Waiters.class, "drives", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ProgressEngine engine;
    /** The configured wait spin; the progress thread stays aside for it after a waiter drove. */
    private final long spinNanos;
    /**
     * A driver's spin now: {@link #spinNanos}, doubled (to at most {@value #MAX_SPIN_FACTOR} times it)
     * whenever a waiter gave up spinning and its future completed within that spin after, back to
     * {@link #spinNanos} after a wait that outlasted the longest spin ({@link #adapt}).
     */
    private volatile long driverSpinNanos;
    @SuppressWarnings("unused") // through DRIVER
    private volatile Thread driver;
    private final ConcurrentLinkedQueue<Thread> parked = new ConcurrentLinkedQueue<>();
    /**
     * Driver sessions ended (and waiters woken by a completion) so far: the progress thread notes
     * when it sees this change ({@link #asideNanos}). A count rather than a time: a clock read per
     * wait cost 10-20% of an in-process round trip (PingPongRounds). The driver writes it with a
     * release store; of two racing writers one update may be lost, and the count still changes.
     */
    private volatile long drives;
    /** The progress thread's own: {@link #drives} when it last looked, and when it saw it change. */
    private long seenDrives;
    private long driveSeenAt;
    /** The id of the thread that drove last (an id, so that a thread that has ended is not kept). */
    private volatile long lastDriverId = -1;
    /** A driver ran out of spin and nothing was added nor progressed since: waiters park at once. */
    private volatile boolean idle;

    Waiters(ProgressEngine engine, long spinNanos) {
        this.engine = engine;
        this.spinNanos = spinNanos;
        this.driverSpinNanos = spinNanos;
        this.driveSeenAt = System.nanoTime() - 2 * spinNanos - 1; // nobody drove yet
    }

    /**
     * Waits until {@code future} is done, driving the worker when it may: {@link #DONE}, or
     * {@link #TIMED_OUT} (only when {@code timed}, at {@code deadline}), {@link #INTERRUPTED} (only
     * when {@code interruptible}; the flag is cleared), {@link #FAILED} ({@code endpoint} failed),
     * {@link #INSIDE_PROGRESS} at once when this thread runs the node's progress (see
     * {@link ProgressEngine#insideProgress}).
     * An uninterruptible wait keeps the interrupt flag.
     */
    int await(CompletableFuture<?> future, boolean timed, long deadline, boolean interruptible, Endpoint endpoint) {
        if (engine.insideProgress()) {
            return INSIDE_PROGRESS; // it would progress inside its own round, or wait for a lock it holds
        }
        Thread me = Thread.currentThread();
        // The progress thread does not drive as a waiter; neither does anyone when spinning is off.
        boolean idled = engine.hasThread() && (spinNanos == 0 || idle || engine.cannotDrive(me));
        boolean queued = false;
        boolean interrupted = false; // an uninterruptible wait clears the flag (else park returns at once) and restores it
        TransportFuture<?> wakeable = future instanceof TransportFuture<?> t ? t : null;
        long gaveUp = 0; // when this waiter stopped spinning for lack of events
        try {
            while (!future.isDone()) {
                if (!idled && DRIVER.compareAndSet(this, null, me)) {
                    if (queued) {
                        parked.remove(me);
                        queued = false;
                    }
                    int outcome;
                    try {
                        outcome = drive(future, timed, deadline, interruptible, endpoint);
                    } finally {
                        driveEnded();
                        if (lastDriverId != me.threadId()) {
                            lastDriverId = me.threadId();
                        }
                        DRIVER.setVolatile(this, null);
                    }
                    if (outcome == IDLE) {
                        gaveUp = System.nanoTime();
                        idle = true;
                        idled = true;
                        engine.resumeThread(); // it sleeps on the worker's events from now on
                    } else {
                        engine.driverLeft();
                    }
                    handOff();
                    if (outcome != IDLE) {
                        return outcome;
                    }
                    continue;
                }
                if (!queued) { // publish before the last checks: completion or hand-off then unparks us
                    if (wakeable != null) {
                        wakeable.waiter = me;
                    }
                    parked.add(me);
                    queued = true;
                    continue;
                }
                int check = check(timed, deadline, interruptible, endpoint);
                if (check != DONE) {
                    return check;
                }
                if (!interruptible && Thread.interrupted()) {
                    interrupted = true;
                }
                long park = wakeable != null ? PARK_NANOS : PARK_NANOS / 10;
                LockSupport.parkNanos(future, timed ? Math.max(1, Math.min(park, deadline - System.nanoTime())) : park);
            }
            if (gaveUp != 0) {
                adapt(System.nanoTime() - gaveUp);
            }
            return DONE;
        } finally {
            if (queued) {
                parked.remove(me);
                if (wakeable != null && wakeable.waiter == me) {
                    wakeable.waiter = null;
                }
                if (!driving()) { // we may have been handed the slot and leave without it: pass it on
                    handOff();
                }
            }
            if (interrupted) {
                me.interrupt();
            }
        }
    }

    /** Progress rounds until the future is done or a check fails; {@link #IDLE} after the spin without events. */
    private int drive(CompletableFuture<?> future, boolean timed, long deadline, boolean interruptible,
            Endpoint endpoint) {
        boolean mayIdle = engine.hasThread();
        long spin = driverSpinNanos;
        long idleSince = 0;
        int empty = 0;
        while (!future.isDone()) {
            if (engine.tryProgress() > 0) {
                empty = 0;
                idleSince = 0;
                continue;
            }
            if ((++empty & 63) == 0) { // the clock and the checks every 64th empty round
                int check = check(timed, deadline, interruptible, endpoint);
                if (check != DONE) {
                    return future.isDone() ? DONE : check;
                }
                long now = System.nanoTime();
                if (idleSince == 0) {
                    idleSince = now;
                } else if (mayIdle && now - idleSince > spin) {
                    return future.isDone() ? DONE : IDLE;
                }
            }
            if (ArenaHold.inTransition()) {
                Thread.yield(); // a holder's thread needs a CPU before the operation can go on
            } else {
                Thread.onSpinWait();
            }
        }
        return DONE;
    }

    private static int check(boolean timed, long deadline, boolean interruptible, Endpoint endpoint) {
        if (interruptible && Thread.interrupted()) {
            return INTERRUPTED;
        }
        if (endpoint != null && endpoint.failure != null) {
            return FAILED;
        }
        if (timed && System.nanoTime() - deadline >= 0) {
            return TIMED_OUT;
        }
        return DONE;
    }

    /**
     * Work arrived (an operation added, an event progressed): the next waiter may spin for it
     * again. Reads before it writes, so the busy path stores nothing.
     */
    void workArrived() {
        if (idle) {
            idle = false;
        }
    }

    /** A driver's session ended: the progress thread stays aside a while ({@link #asideNanos}). */
    void driveEnded() {
        DRIVES.setRelease(this, drives + 1);
    }

    /**
     * A completion unparked a waiter, which will likely drive next: the progress thread, which made
     * the completion, stays aside as if that waiter had just driven. Else it spun on in its idle
     * spin while the woken waiter waited for a CPU (two here, the peer's driver on the other).
     */
    void wokeWaiter() {
        DRIVES.getAndAdd(this, 1L);
    }

    /**
     * A waiter that gave up spinning got its future {@code nanosAfter} later. Sooner than its spin:
     * a spin twice as long would have caught it, and the hand-off through the progress thread it
     * paid instead costs 15-60 µs here at the median and 0.3-0.6 ms at the 99th percentile
     * (bin/bench-transport, waitSpin=0); and the peers then gave up in turn (with a 1 ms gap
     * between round trips and a 2 ms spin, in 1.5-2% of them). Later than the longest spin:
     * spinning would not have helped, so back to the configured spin. The CPU a wait may burn
     * spinning stays bounded. Two waiters adapting at once may lose one's step: either value is
     * within the bounds.
     */
    void adapt(long nanosAfter) {
        long spin = driverSpinNanos;
        if (nanosAfter < spin) {
            driverSpinNanos = Math.min(2 * spin, MAX_SPIN_FACTOR * spinNanos);
        } else if (nanosAfter > MAX_SPIN_FACTOR * spinNanos) {
            driverSpinNanos = spinNanos;
        }
    }

    /** A driver's spin now, for tests. */
    long driverSpinNanos() {
        return driverSpinNanos;
    }

    /** The driver left: the next parked waiter may take the slot. */
    private void handOff() {
        Thread next = parked.peek();
        if (next != null) {
            LockSupport.unpark(next);
        }
    }

    /** True when nobody drives and {@code adder} is not the thread that drove last (which will likely wait, and drive, again). */
    boolean noDriverExpected(Thread adder) {
        return !driving() && lastDriverId != adder.threadId();
    }

    /** True while a waiter drives. */
    boolean driving() {
        return DRIVER.getVolatile(this) != null;
    }

    /**
     * For the progress thread only: how long to stay aside from {@code now} (0: drive), because a
     * waiter drives, or one drove less than the wait spin before this thread saw it, and did not
     * go idle (it will likely wait again). Staying aside, the thread looks again at the end of
     * each park, at most a wait spin later: it takes over one to two wait spins after the last
     * driver left.
     */
    long asideNanos(long now) {
        if (driving()) {
            return Long.MAX_VALUE;
        }
        if (idle || spinNanos == 0) {
            return 0;
        }
        long seen = drives;
        if (seen != seenDrives) {
            seenDrives = seen;
            driveSeenAt = now;
        }
        return Math.max(0, spinNanos - (now - driveSeenAt));
    }
}
