package org.memreg.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.memreg.util.ArenaHold;
import org.memreg.util.Warnings;

/**
 * The future of a transport operation: a {@link CompletableFuture} whose blocking methods
 * ({@link #get()}, {@link #get(long, TimeUnit)}, {@link #join()}) make the waiting thread drive the
 * node's worker itself ({@link Waiters}) instead of sleeping until the progress thread completes
 * it: no hand-off between threads on the way from UCX to the waiter. Dependent stages
 * ({@code thenApply} and so on) are transport futures of the same node too. Waiting for one that
 * is not done from inside the node's progress (a completion stage) throws
 * {@link IllegalStateException}: nothing of the node can finish until that stage returns.
 *
 * <p>The future of an operation on the caller's memory (a receive, a rendezvous send, a put, a
 * get) stands for that memory lent to UCX ({@link #lend}): only the node completes it, once UCX
 * no longer uses the memory, for a caller may free the memory as soon as it is done. Completing
 * it by other means ({@code complete}, {@code completeExceptionally}, {@code obtrude...},
 * {@code completeAsync}, {@code orTimeout}, {@code completeOnTimeout}) throws
 * {@link UnsupportedOperationException}; {@link #cancel} succeeds only where the operation can take
 * the memory back from UCX at once (a receive not yet matched) and returns false otherwise. A
 * receive that a caller cancelled and whose buffer it then unmapped had a message copied into
 * the unmapped buffer by UCX a moment later, and the JVM died (SIGSEGV in libc's memcpy).
 * Dependent stages are ordinary futures.
 *
 * <p>A receive lends the caller's buffer only once a rendezvous message's chunks go into it: its
 * first part lands in memory of the node's own ({@link Staging}). A lent future whose memory's
 * arena was closed before UCX let go of it fails with {@link IllegalStateException} whatever the
 * operation's outcome, and the misuse is logged (at most once a second): UCX may have written into
 * or read from that memory after it was freed. A shared arena cannot come to that: the operation
 * holds it open ({@link ArenaHold}, given to {@link #lend}) until UCX has let go, its close throws
 * meanwhile, and the future completes once the hold has ended, so that the caller may close the
 * arena as soon as it is done. A confined arena cannot be held from another thread, so UCX never
 * gets its memory past a call ({@link ConfinedMemory}); what is left to find after the fact is a
 * shared arena beyond {@link ArenaHold#MAX_HOLDS}, which goes unheld. What such an operation
 * brings is copied into confined memory at the end, by another thread only while the owner is
 * not known to be free to close it ({@link ConfinedDelivery}): so every look at the outcome
 * ({@link #isDone}, {@link #getNow}, ...) first lets the owner copy in what waits for it.
 *
 * <p>Completing one wakes a thread parked on it ({@link #waiter}); waiters that drive need no wake-up.
 */
final class TransportFuture<T> extends CompletableFuture<T> {
    /** What a lent operation can do about the caller's memory it lent to UCX ({@link #lend}). */
    interface Lender {
        /**
         * Takes the memory back from UCX if it can at once (under the node's lock): true if it did,
         * and the future is cancelled; for {@link #cancel}.
         */
        boolean withdraw();
    }

    /** The lender of an operation that cannot take the caller's memory back from UCX (sends, puts, gets). */
    static final Lender KEPT_BY_UCX = () -> false;
    private final Waiters waiters;
    private final HeldCompletions heldCompletions;
    /** A thread parked until this completes, or null; set only on the slow path (see {@link Waiters}). */
    volatile Thread waiter;
    /** Null for an ordinary future; for one that stands for the caller's memory lent to UCX, its operation. */
    private volatile Lender lender;
    /** The caller's memory lent to UCX ({@link #lend}), and what the operation is, for the message; else null. */
    private volatile MemorySegment lentMemory;
    private volatile String lentTo;
    /** The hold of the lent memory's arena, or null; under this. */
    private ArenaHold hold;
    /** True once a completion waits for the hold's end; under this. */
    private boolean holdEnding;
    /** Made at the first wait that ends without this, or the first copy into memory confined to another thread. */
    private volatile ConfinedDelivery delivery;
    /** Lent memory whose arena closed too early, all nodes: a caller's bug, reported at most once a second. */
    private static final Warnings CLOSED_WHILE_LENT = new Warnings(TransportFuture.class, "memreg transport");

    TransportFuture(Waiters waiters, HeldCompletions heldCompletions) {
        this.waiters = waiters;
        this.heldCompletions = heldCompletions;
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
        if (!isDone()) {
            outcome(waitedFor(waiters.await(this, false, 0, true, null)));
        }
        return super.get();
    }

    /** After a wait for this: one that ended without it leaves this thread away ({@link ConfinedDelivery#left}). */
    private int waitedFor(int outcome) {
        if (!super.isDone()) {
            delivery().left(super::isDone);
        }
        return outcome;
    }

    /** Throws for an interrupted wait, or one this thread may not make (inside the node's progress). */
    private void outcome(int outcome) throws InterruptedException {
        if (outcome == Waiters.INTERRUPTED) {
            throw new InterruptedException();
        }
        if (outcome == Waiters.INSIDE_PROGRESS && !isDone()) {
            throw new IllegalStateException(ProgressEngine.insideProgressMessage("waiting for a transport future"));
        }
    }

    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        if (!isDone()) {
            outcome(waitedFor(waiters.await(this, true, System.nanoTime() + unit.toNanos(timeout), true, null)));
            if (!super.isDone()) {
                throw new TimeoutException();
            }
        }
        return super.get();
    }

    @Override
    public T join() {
        if (!isDone() && waitedFor(waiters.await(this, false, 0, false, null)) == Waiters.INSIDE_PROGRESS
                && !isDone()) {
            throw new IllegalStateException(ProgressEngine.insideProgressMessage("waiting for a transport future"));
        }
        return super.join();
    }

    // Each look at the outcome first lets a thread whose memory waits for it copy it in (ConfinedDelivery).

    @Override
    public boolean isDone() {
        look();
        return super.isDone();
    }

    @Override
    public T getNow(T valueIfAbsent) {
        look();
        return super.getNow(valueIfAbsent);
    }

    @Override
    public T resultNow() {
        look();
        return super.resultNow();
    }

    @Override
    public Throwable exceptionNow() {
        look();
        return super.exceptionNow();
    }

    @Override
    public State state() {
        look();
        return super.state();
    }

    @Override
    public boolean isCompletedExceptionally() {
        look();
        return super.isCompletedExceptionally();
    }

    private void look() {
        ConfinedDelivery confined = delivery;
        if (confined != null) {
            confined.look();
        }
    }

    private ConfinedDelivery delivery() {
        ConfinedDelivery confined = delivery;
        if (confined == null) {
            synchronized (this) {
                confined = delivery;
                if (confined == null) {
                    delivery = confined = new ConfinedDelivery();
                }
            }
        }
        return confined;
    }

    /**
     * Settles {@code future} with {@code value} once the first {@code length} bytes of {@code from},
     * the node's memory, are copied into {@code to}, the caller's, or fails it with {@code gone}
     * if the caller's arena was found closed. Memory confined to another thread goes through the
     * future's {@link ConfinedDelivery}; when its bytes wait for their owner, {@code engine} looks
     * after them ({@link ProgressEngine#awaitOwner}).
     */
    static <V> void settleCopied(ProgressEngine engine, CompletableFuture<V> future, MemorySegment from,
            MemorySegment to, long length, V value, Supplier<? extends Throwable> gone) {
        if (to.isAccessibleBy(Thread.currentThread()) || !(future instanceof TransportFuture<V> own)) {
            if (ConfinedMemory.copy(from, to, length)) {
                settle(future, value);
            } else {
                settleExceptionally(future, gone.get());
            }
        } else if (!own.delivery().copy(from, to, length, () -> settle(own, value),
                cause -> settleExceptionally(own, cause), gone)) {
            engine.awaitOwner(own);
        }
    }

    /** For the node's progress: {@link ConfinedDelivery#settledUnlessOwnerLooks}. */
    boolean settledUnlessOwnerLooks(Throwable closing) {
        return delivery().settledUnlessOwnerLooks(closing);
    }

    /**
     * Marks {@code future}, if it is a transport future, as the future of {@code operation} (e.g.
     * "a receive", for messages) holding the caller's {@code memory} in UCX (see the class comment);
     * {@code lender} is told of a {@link #cancel}.
     */
    static void lend(CompletableFuture<?> future, MemorySegment memory, String operation, Lender lender) {
        lend(future, memory, operation, lender, ArenaHold.NONE);
    }

    /**
     * {@link #lend}, with the hold that keeps the memory's arena open ({@link ArenaHold}): the
     * node's completion ends it, and the future completes once the arena may close.
     */
    static void lend(CompletableFuture<?> future, MemorySegment memory, String operation, Lender lender,
            ArenaHold hold) {
        if (future instanceof TransportFuture<?> lent) {
            lent.lentMemory = memory;
            lent.lentTo = operation;
            lent.lender = lender;
            lent.takeHold(hold);
        } else {
            hold.release(() -> { });
        }
    }

    private synchronized void takeHold(ArenaHold next) {
        if (hold != null) {
            hold.release(() -> { }); // a receive lends its staging first, then the buffer
        }
        hold = next == ArenaHold.NONE ? null : next;
    }

    /**
     * Runs the node's {@code completion} of this future: at once, or once the hold of its memory's
     * arena has ended. The first completion wins, as a CompletableFuture's does: one that waits for
     * the hold's end makes later ones void.
     */
    private void completeAfterHold(Runnable completion) {
        ArenaHold ending;
        synchronized (this) {
            if (holdEnding) {
                return;
            }
            ending = hold;
            hold = null;
            holdEnding = ending != null;
        }
        if (ending == null) {
            completion.run();
        } else {
            heldCompletions.started();
            ending.release(() -> {
                heldCompletions.ended(); // first: a stage of this future may close the node, which waits for it
                completion.run();
            });
        }
    }

    /**
     * The failure of a lent future whose memory's arena is closed (see the class comment), or null;
     * {@code outcome} is what the operation came to otherwise (null for success).
     */
    private IllegalStateException closedWhileLent(Throwable outcome) {
        MemorySegment memory = lentMemory;
        if (memory == null || memory.scope().isAlive() || super.isDone()) {
            return null;
        }
        String what = "the arena of a buffer lent to UCX (" + lentTo + ", " + memory + ") was closed before the"
                + " operation was done: UCX may have written into or read from the memory after it was freed; keep"
                + " a buffer's arena open until its operation's future is done";
        synchronized (CLOSED_WHILE_LENT) {
            CLOSED_WHILE_LENT.warn(what);
        }
        IllegalStateException failure = new IllegalStateException(what);
        if (outcome != null) {
            failure.addSuppressed(outcome);
        }
        return failure;
    }

    /** True when {@code future} stands for the caller's memory lent to UCX ({@link #lend}). */
    static boolean isLent(CompletableFuture<?> future) {
        return future instanceof TransportFuture<?> own && own.lender != null;
    }

    /** Completes an operation's {@code future} with {@code value}: the node's way, lent or not. */
    static <V> void settle(CompletableFuture<V> future, V value) {
        if (future instanceof TransportFuture<V> own) {
            IllegalStateException closed = own.closedWhileLent(null); // before the hold ends: the arena may close then
            own.completeAfterHold(() -> own.wakeAfter(closed != null ? own.failAsNode(closed) : own.completeAsNode(value)));
        } else {
            future.complete(value);
        }
    }

    /** Fails an operation's {@code future} with {@code cause}: the node's way, lent or not. */
    static void settleExceptionally(CompletableFuture<?> future, Throwable cause) {
        if (future instanceof TransportFuture<?> own) {
            IllegalStateException closed = own.closedWhileLent(cause);
            own.completeAfterHold(() -> own.wakeAfter(own.failAsNode(closed != null ? closed : cause)));
        } else {
            future.completeExceptionally(cause);
        }
    }

    /** Cancels the future of an operation that took the caller's memory back from UCX. */
    boolean settleCancelled() {
        return wakeAfter(super.cancel(false));
    }

    private boolean completeAsNode(T value) {
        return super.complete(value);
    }

    private boolean failAsNode(Throwable cause) {
        return super.completeExceptionally(cause);
    }

    @Override
    public boolean complete(T value) {
        refuseIfLent("complete");
        return wakeAfter(super.complete(value));
    }

    @Override
    public boolean completeExceptionally(Throwable ex) {
        refuseIfLent("completeExceptionally");
        return wakeAfter(super.completeExceptionally(ex));
    }

    /**
     * Cancels this future; for one whose operation holds the caller's memory, only if the
     * operation can take it back from UCX at once (a receive not yet matched): otherwise false,
     * and the future completes when UCX is done with the memory.
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        Lender lent = lender;
        if (lent != null) {
            return isCancelled() || !isDone() && lent.withdraw();
        }
        return wakeAfter(super.cancel(mayInterruptIfRunning));
    }

    @Override
    public void obtrudeValue(T value) {
        refuseIfLent("obtrudeValue");
        super.obtrudeValue(value);
    }

    @Override
    public void obtrudeException(Throwable ex) {
        refuseIfLent("obtrudeException");
        super.obtrudeException(ex);
    }

    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier, Executor executor) {
        refuseIfLent("completeAsync");
        return super.completeAsync(supplier, executor);
    }

    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier) {
        refuseIfLent("completeAsync");
        return super.completeAsync(supplier);
    }

    @Override
    public CompletableFuture<T> orTimeout(long timeout, TimeUnit unit) {
        refuseIfLent("orTimeout");
        return super.orTimeout(timeout, unit);
    }

    @Override
    public CompletableFuture<T> completeOnTimeout(T value, long timeout, TimeUnit unit) {
        refuseIfLent("completeOnTimeout");
        return super.completeOnTimeout(value, timeout, unit);
    }

    private void refuseIfLent(String method) {
        if (lender != null && !isDone()) {
            throw new UnsupportedOperationException(method + " of a transport operation's future while UCX may still"
                    + " use the caller's memory: only the node completes it, once UCX is done with the memory (bound a"
                    + " wait with get(timeout, unit); cancel takes back a receive not yet matched)");
        }
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new TransportFuture<>(waiters, heldCompletions);
    }

    /** Wakes a parked waiter and returns {@code result}. */
    private boolean wakeAfter(boolean result) {
        Thread parked = waiter;
        if (parked != null) {
            waiters.wokeWaiter();
            LockSupport.unpark(parked);
        }
        return result;
    }
}
