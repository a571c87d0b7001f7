package org.memreg.transport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The future of a transport operation: a {@link CompletableFuture} whose blocking methods
 * ({@link #get()}, {@link #get(long, TimeUnit)}, {@link #join()}) make the waiting thread drive the
 * node's worker itself ({@link Waiters}) instead of sleeping until the progress thread completes
 * it: no hand-off between threads on the way from UCX to the waiter. Dependent stages
 * ({@code thenApply} and so on) are transport futures of the same node too. Waiting for one that
 * is not done from inside the node's progress (a completion stage) throws
 * {@link IllegalStateException}: nothing of the node can finish until that stage returns.
 *
 * <p>Completing one wakes a thread parked on it ({@link #waiter}); waiters that drive need no wake-up.
 */
final class TransportFuture<T> extends CompletableFuture<T> {
    private final Waiters waiters;
    /** A thread parked until this completes, or null; set only on the slow path (see {@link Waiters}). */
    volatile Thread waiter;

    TransportFuture(Waiters waiters) {
        this.waiters = waiters;
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
        if (!isDone()) {
            outcome(waiters.await(this, false, 0, true, null));
        }
        return super.get();
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
            outcome(waiters.await(this, true, System.nanoTime() + unit.toNanos(timeout), true, null));
            if (!isDone()) {
                throw new TimeoutException();
            }
        }
        return super.get();
    }

    @Override
    public T join() {
        if (!isDone() && waiters.await(this, false, 0, false, null) == Waiters.INSIDE_PROGRESS && !isDone()) {
            throw new IllegalStateException(ProgressEngine.insideProgressMessage("waiting for a transport future"));
        }
        return super.join();
    }

    @Override
    public boolean complete(T value) {
        boolean completed = super.complete(value);
        wakeWaiter();
        return completed;
    }

    @Override
    public boolean completeExceptionally(Throwable ex) {
        boolean completed = super.completeExceptionally(ex);
        wakeWaiter();
        return completed;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        boolean cancelled = super.cancel(mayInterruptIfRunning);
        wakeWaiter();
        return cancelled;
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new TransportFuture<>(waiters);
    }

    private void wakeWaiter() {
        Thread parked = waiter;
        if (parked != null) {
            waiters.wokeWaiter();
            LockSupport.unpark(parked);
        }
    }
}
