package org.memreg.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The last step of a receive or get into memory of a confined arena when a thread other than the
 * arena's owner completes it (the progress thread, another waiter): copying what came, in the
 * node's memory, into the caller's ({@link ConfinedMemory#copy}). Only the owner may close that
 * arena, at any moment, and nothing can stop it; the kernel's copy fails at memory the close
 * unmapped, but writes on into memory the allocator kept (a block of its heap). So such a copy is
 * made only where the owner is not known to be free to close the arena:
 *
 * <ul>
 *   <li>An owner whose wait for the future ends without it (a timed-out {@code get}, an interrupt)
 *       first waits for a copy under way to end: the README's try-with-resources around a timed
 *       {@code get} closes the arena only after it.
 *   <li>From then on the owner is <em>away</em>: what comes is copied aside and waits for the owner
 *       to look at the future again ({@code get}, {@code join}, {@code isDone}, ...), which copies
 *       it on its own thread, where the arena cannot close under the copy. If the owner closed the
 *       arena instead, the operation fails as having lost its buffer once the node's progress sees
 *       that ({@link ProgressEngine#awaitOwner}).
 * </ul>
 *
 * What is left: an owner that never waited for the future, or whose wait for another one (a
 * dependent stage) ended, and that closes the arena during the copy. One per future, made at the
 * first wait that ends without it or the first such copy; its state under its monitor.
 */
final class ConfinedDelivery {
    /** What came while the owner was away, copied aside, and how the future completes once it is in place. */
    private record Deferred(MemorySegment aside, MemorySegment to, Runnable delivered, Consumer<Throwable> failed,
            Supplier<? extends Throwable> gone) {
        void copy() { // on the owner's thread: its arena cannot close under this copy
            if (ConfinedMemory.copy(aside, to, aside.byteSize())) {
                delivered.run();
            } else {
                failed.accept(gone.get());
            }
        }
    }

    /** Threads whose wait for the future ended without it and that have not looked at it since. */
    private final List<Thread> away = new ArrayList<>(1);
    /** {@code !away.isEmpty()}, for a look without the lock. */
    private volatile boolean anyAway;
    /** Copies under way into the caller's memory by a thread other than its owner. */
    private int copying;
    private volatile Deferred deferred;

    /**
     * Copies the first {@code length} bytes of {@code from}, the node's memory, into {@code to},
     * memory confined to another thread, and then runs {@code delivered}, or {@code failed} with
     * {@code gone} if the arena was found closed; or, while the owner is away, copies them aside
     * for it. Returns false in that case: the future waits for its owner.
     */
    boolean copy(MemorySegment from, MemorySegment to, long length, Runnable delivered, Consumer<Throwable> failed,
            Supplier<? extends Throwable> gone) {
        synchronized (this) {
            if (ownerAway(to) && to.scope().isAlive()) { // once closed, nothing to set aside: the copy fails at once
                MemorySegment aside = Arena.ofAuto().allocate(Math.max(1, length), 8).asSlice(0, length);
                MemorySegment.copy(from, 0, aside, 0, length);
                deferred = new Deferred(aside, to, delivered, failed, gone);
                return false;
            }
            copying++;
        }
        boolean copied;
        try {
            copied = ConfinedMemory.copy(from, to, length);
        } finally {
            synchronized (this) {
                if (--copying == 0) {
                    notifyAll();
                }
            }
        }
        if (copied) {
            delivered.run();
        } else {
            failed.accept(gone.get());
        }
        return true;
    }

    private boolean ownerAway(MemorySegment to) {
        for (Thread thread : away) {
            if (to.isAccessibleBy(thread)) {
                return true;
            }
        }
        return false;
    }

    /**
     * This thread's wait for the future ended without it: once no copy is under way (the thread
     * may close its arena next), it is away, unless {@code done} says the future completed meanwhile.
     */
    void left(BooleanSupplier done) {
        Thread me = Thread.currentThread();
        boolean interrupted = false;
        synchronized (this) {
            while (copying > 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // the copy ends soon; the flag stays for the caller
                }
            }
            if (!done.getAsBoolean() && !away.contains(me)) {
                away.add(me);
                anyAway = true;
            }
        }
        if (interrupted) {
            me.interrupt();
        }
    }

    /** This thread looks at the future: it is back, and if it owns memory that waits for it, copies into it. */
    void look() {
        if (!anyAway && deferred == null) {
            return; // a future that is looked at in a loop (a waiter's) takes no lock
        }
        Thread me = Thread.currentThread();
        Deferred mine;
        synchronized (this) {
            away.remove(me);
            anyAway = !away.isEmpty();
            mine = deferred != null && deferred.to.isAccessibleBy(me) ? deferred : null;
            if (mine != null) {
                deferred = null;
            }
        }
        if (mine != null) {
            mine.copy();
        }
    }

    /**
     * For the node's progress: true once nothing waits for the owner any more; fails what waits if
     * its arena was closed (the owner will not look again) or {@code closing} is not null.
     */
    boolean settledUnlessOwnerLooks(Throwable closing) {
        Deferred over;
        synchronized (this) {
            if (deferred == null) {
                return true;
            }
            if (closing == null && deferred.to.scope().isAlive()) {
                return false;
            }
            over = deferred;
            deferred = null;
        }
        over.failed.accept(closing != null ? closing : over.gone.get()); // as the node's close fails every operation
        return true;
    }
}
