package org.memreg.util;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;

/**
 * Keeps a caller's shared arena from closing while native code uses its memory outside any call
 * (UCX reading a rendezvous send's chunks, writing a receive's, a put's or a get's buffer). FFM
 * frees an arena's memory at {@code close()} whatever native code was handed its address: a
 * SIGSEGV where the memory was unmapped, silent corruption where the allocator handed it on. FFM's
 * one guard is that an arena stays acquired while a thread is inside a downcall given one of its
 * segments, and a shared arena's {@code close()} then throws {@link IllegalStateException}
 * ("Session is acquired"). So a hold is a thread parked inside such a call ({@code
 * memreg_arena_hold.c}) from before the memory is handed on until after it is let go: a caller
 * that closes the arena meanwhile gets that exception, and its memory stays for the operation.
 *
 * <p>One hold per arena serves every operation on it at once: {@link #of} joins a hold in place,
 * and the last {@link #release} ends it. Starting one and ending one are each a hand-off to the
 * holder's thread, so operations that follow one another on one arena pay both, and overlapping
 * ones share them. Native code that may be done with the memory within the call that hands it over
 * goes through {@link #during}: the call is made with the arena acquired by the caller's own
 * thread, and a hold starts only if native code keeps the memory past it. Only shared arenas are
 * held: an automatic arena or the global one cannot be closed, and a confined arena cannot be used
 * from another thread at all (FFM refuses it), so its owner must keep it open until the memory is
 * let go. At most {@value #MAX_HOLDS} arenas are held at once; beyond that an operation goes
 * unheld, with a warning.
 */
public final class ArenaHold {
    /** The most arenas held at once (a parked thread each). */
    public static final int MAX_HOLDS = 256;
    private static final int WAITING = 0;
    private static final int HELD = 1;
    private static final int RELEASED = 2;
    private static final int FAILED = 3;
    private static final VarHandle STATE = JAVA_INT.varHandle();
    /** The scopes of arenas nobody can close (FFM has no public word for them): an automatic arena's, the global one's. */
    private static final Class<?> AUTOMATIC = Arena.ofAuto().allocate(1).scope().getClass();
    private static final Class<?> GLOBAL = Arena.global().scope().getClass();
    /** The holds in place, by arena; under its own monitor. */
    private static final Map<MemorySegment.Scope, ArenaHold> HELD_ARENAS = new HashMap<>();
    /** Holds whose holder's thread has yet to run: to enter its call, or to return from it. */
    private static final AtomicInteger IN_TRANSITION = new AtomicInteger();
    private static final Warnings UNHELD = new Warnings(ArenaHold.class, "memreg arena holds");
    /** The hold whose holder this thread is, for {@link #heldUpcall}. */
    private static final ThreadLocal<ArenaHold> HOLDING = new ThreadLocal<>();
    /** What {@link #duringUpcall} runs on this thread, for {@link #during}. */
    private static final ThreadLocal<Posting> POSTING = new ThreadLocal<>();

    /** The hold of memory that needs none, or that cannot be held: in place at once, ended at once. */
    public static final ArenaHold NONE = new ArenaHold(null, null);

    /**
     * The native side, loaded at the first arena to hold: every send and receive names this class
     * ({@link #NONE}), and a node that holds nothing should not pay for a library, two upcall stubs
     * and a thread pool (10-17 ms at a JVM's first send, measured).
     */
    private static final class Native {
        static final NativeResource LIBRARY = NativeResource.load(ArenaHold.class, "libmemreg-arena-hold.so",
                path -> SymbolLookup.libraryLookup(path, Arena.global()));
        static final MethodHandle HOLD = LIBRARY.downcall("memreg_hold",
                FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle SET = LIBRARY.downcall("memreg_set", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        static final MethodHandle AWAIT = LIBRARY.downcall("memreg_await", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        static final MethodHandle DURING = LIBRARY.downcall("memreg_during", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
        /** {@link ArenaHold#heldUpcall} as a C function, for the holder's call to make once the arena is held. */
        static final MemorySegment HELD_UPCALL = upcall("heldUpcall");
        static final MemorySegment DURING_UPCALL = upcall("duringUpcall");
        private static final AtomicInteger HOLDERS_MADE = new AtomicInteger();
        static final ThreadPoolExecutor HOLDERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10, TimeUnit.SECONDS,
                new SynchronousQueue<>(), work -> Thread.ofPlatform().daemon()
                        .name("memreg-arena-hold-" + HOLDERS_MADE.incrementAndGet()).unstarted(work));
    }

    private final MemorySegment.Scope arena;
    /** A segment of the held arena, given to the holder's call; null once the call has returned. */
    private MemorySegment memory;
    /** {@link #WAITING}, {@link #HELD}, {@link #RELEASED} or {@link #FAILED}: native, for the holder's call reads it. */
    private final MemorySegment state;
    /** The operations holding it ({@link #of} less {@link #release}); under {@link #HELD_ARENAS}. */
    private int users;
    /** What runs once the holder's call has returned; under this. */
    private Runnable then;
    private boolean ended;
    /** Counted in {@link #IN_TRANSITION} until the holder has entered its call, or failed to; under this. */
    private boolean starting;
    /** Counted in {@link #IN_TRANSITION} from the last release until the holder's call has returned; under this. */
    private boolean ending;
    /** What runs once the hold is in place or has failed ({@link #of(MemorySegment, Runnable)}); under this. */
    private List<Runnable> whenHeld = new ArrayList<>();

    private ArenaHold(MemorySegment memory, MemorySegment state) {
        this.arena = memory == null ? null : memory.scope();
        this.memory = memory;
        this.state = state;
    }

    /**
     * Starts holding the arena of {@code memory}, or joins its hold in place; {@link #NONE} where
     * there is nothing to hold. Each call is ended by one {@link #release}. Hand the memory on only
     * once {@link #held()}.
     */
    public static ArenaHold of(MemorySegment memory) {
        return of(memory, null);
    }

    /**
     * {@link #of(MemorySegment)}, and {@code whenHeld} runs on the holder's thread once the hold
     * is in place or has failed, unless it was already when this returns (look at {@link #held()}).
     * It must be quick and must not throw (e.g. wake a thread that looks again).
     */
    public static ArenaHold of(MemorySegment memory, Runnable whenHeld) {
        if (!closableByAnother(memory) || Native.HOLD == null) {
            return NONE;
        }
        synchronized (HELD_ARENAS) {
            ArenaHold hold = HELD_ARENAS.get(memory.scope());
            if (hold != null) {
                hold.users++;
                hold.callWhenHeld(whenHeld);
                return hold;
            }
            if (HELD_ARENAS.size() >= MAX_HOLDS) {
                UNHELD.warn(() -> MAX_HOLDS + " arenas held at once already: an operation on " + memory
                        + " goes unheld (close its arena only once the operation is done)");
                return NONE;
            }
            hold = new ArenaHold(memory, Arena.ofAuto().allocate(JAVA_INT));
            hold.transition(true, true);
            try {
                Native.HOLDERS.execute(hold::holdUntilReleased);
            } catch (RuntimeException | OutOfMemoryError e) { // no thread to hold it: as beyond the limit
                hold.transition(true, false);
                UNHELD.warn(() -> "no thread to hold the arena of " + memory + " (" + e + "): it goes unheld");
                return NONE;
            }
            hold.users = 1;
            hold.callWhenHeld(whenHeld);
            HELD_ARENAS.put(hold.arena, hold);
            return hold;
        }
    }

    /**
     * True for memory of an arena that another thread may close: a shared one. An automatic
     * arena and the global one cannot be closed; a confined one only by its owner, and the holder
     * could not touch it.
     */
    public static boolean closableByAnother(MemorySegment memory) {
        if (!memory.isNative() || OpenArena.confined(memory)) {
            return false;
        }
        Class<?> kind = memory.scope().getClass();
        return kind != AUTOMATIC && kind != GLOBAL;
    }

    /** True once the arena is held (at once for {@link #NONE}): the memory may be handed on. */
    public boolean held() {
        return state == null || state() == HELD;
    }

    /** True when the arena was closed before the hold was in place: the memory is gone, it will never be held. */
    public boolean failed() {
        return state != null && state() == FAILED;
    }

    /**
     * Waits until {@link #held()} or {@link #failed()}, for a caller that holds no lock; returns
     * {@link #held()}.
     */
    public boolean await() {
        if (state != null && state() == WAITING) {
            call(Native.AWAIT, WAITING);
        }
        return held();
    }

    private int state() {
        return (int) STATE.getAcquire(state, 0L);
    }

    /**
     * Ends one {@link #of}'s part: {@code then} runs once the arena may close, at once while
     * other operations still hold it, else on the holder's thread once its call has returned.
     */
    public void release(Runnable whenFree) {
        if (state == null) {
            whenFree.run();
            return;
        }
        boolean last;
        synchronized (HELD_ARENAS) {
            last = --users == 0;
            if (last) {
                HELD_ARENAS.remove(arena, this);
            }
        }
        if (!last) {
            whenFree.run();
            return;
        }
        boolean over;
        synchronized (this) {
            over = ended;
            then = over ? null : whenFree;
            if (!over) {
                transition(false, true);
            }
        }
        if (over) {
            whenFree.run();
        } else {
            call(Native.SET, RELEASED); // the holder's call returns, or returns at once when it comes
        }
    }

    private synchronized void callWhenHeld(Runnable call) {
        if (call != null && whenHeld != null) {
            whenHeld.add(call);
        }
    }

    /**
     * {@link #release} that returns once the arena may close, for a caller that holds no lock
     * and whose operation never went to UCX (the caller may close the arena when it returns).
     */
    public void releaseAndWait() {
        CompletableFuture<Void> free = new CompletableFuture<>();
        release(() -> free.complete(null));
        free.join();
    }

    /** The holder's thread: inside the call until released; then what waits for the end runs here. */
    private void holdUntilReleased() {
        HOLDING.set(this);
        try {
            Native.HOLD.invokeExact(memory, state, Native.HELD_UPCALL);
        } catch (IllegalStateException closed) { // closed before the call began: FFM would not enter it
            if (STATE.compareAndSet(state, 0L, WAITING, FAILED)) {
                call(Native.SET, FAILED); // wakes those in await()
                runWhenHeld();
            }
        } catch (Throwable t) {
            throw new AssertionError("memreg_hold failed", t);
        } finally {
            HOLDING.remove();
            Runnable after;
            synchronized (this) {
                transition(true, false);
                transition(false, false);
                ended = true;
                memory = null;
                after = then;
                then = null;
            }
            if (after != null) {
                after.run();
            }
        }
    }

    /** What {@link #during} returns: what the post returned, and the hold it needed ({@link #NONE} if none). */
    public record Posted(long result, ArenaHold hold) {
    }

    /** The work of one {@link #during}, and what came of it. */
    private static final class Posting {
        final MemorySegment memory;
        final LongSupplier post;
        final LongPredicate kept;
        Posted posted;
        Throwable failure;

        Posting(MemorySegment memory, LongSupplier post, LongPredicate kept) {
            this.memory = memory;
            this.post = post;
            this.kept = kept;
        }

        void run() {
            long result = post.getAsLong();
            ArenaHold hold = NONE;
            if (kept.test(result)) { // native code keeps the memory past the post: held before this call lets go
                hold = of(memory);
                hold.await();
            }
            posted = new Posted(result, hold);
        }
    }

    /**
     * Runs {@code post}, which hands {@code memory} to native code, with the memory's arena
     * acquired by this thread (inside a native call given the memory, so a shared arena's close
     * throws meanwhile); when {@code kept} says of its result that native code keeps the memory
     * past the post, starts a hold and waits for it before that call returns, so that no moment
     * lets the arena close under it. A post that native code finished within costs no hand-off.
     * The hold, if any, is ended by one {@link #release}.
     *
     * @throws IllegalStateException when the arena is closed: {@code post} did not run
     */
    public static Posted during(MemorySegment memory, LongSupplier post, LongPredicate kept) {
        if (!closableByAnother(memory) || Native.DURING == null) {
            return new Posted(post.getAsLong(), NONE);
        }
        Posting posting = new Posting(memory, post, kept);
        Posting outer = POSTING.get();
        POSTING.set(posting);
        try {
            Native.DURING.invokeExact(memory, Native.DURING_UPCALL);
        } catch (IllegalStateException | WrongThreadException closed) { // FFM refused to enter: post did not run
            throw closed;
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            POSTING.set(outer);
        }
        if (posting.failure instanceof RuntimeException e) {
            throw e;
        }
        if (posting.failure instanceof Error e) {
            throw e;
        }
        return posting.posted;
    }

    /** Called by {@link #during}'s call (an upcall: nothing may escape it; a failure is thrown after). */
    private static void duringUpcall() {
        Posting posting = POSTING.get();
        try {
            posting.run();
        } catch (Throwable t) {
            posting.failure = t;
        }
    }

    /** Called by the holder's call once the arena is held (an upcall: nothing may escape it). */
    private static void heldUpcall() {
        try {
            HOLDING.get().runWhenHeld();
        } catch (Throwable t) {
            System.getLogger(ArenaHold.class.getName()).log(System.Logger.Level.ERROR, "a hold's wake-up failed", t);
        }
    }

    private void runWhenHeld() {
        List<Runnable> calls;
        synchronized (this) {
            transition(true, false);
            calls = whenHeld;
            whenHeld = null;
        }
        calls.forEach(Runnable::run);
    }

    @SuppressWarnings("restricted") // a static method of this class, void(void), for the life of the JVM
    private static MemorySegment upcall(String method) {
        try {
            return Linker.nativeLinker().upcallStub(MethodHandles.lookup().findStatic(ArenaHold.class, method,
                    MethodType.methodType(void.class)), FunctionDescriptor.ofVoid(), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** Counts this hold in or out of {@link #IN_TRANSITION}: its start ({@code start}) or its end; under this. */
    private void transition(boolean start, boolean in) {
        if (start ? starting == in : ending == in) {
            return;
        }
        if (start) {
            starting = in;
        } else {
            ending = in;
        }
        IN_TRANSITION.addAndGet(in ? 1 : -1);
    }

    /**
     * True while some hold waits for its holder's thread to run (to start or to end it): a thread
     * that spins for the operation behind it gives the CPU away instead (2 vCPUs here).
     */
    public static boolean inTransition() {
        return IN_TRANSITION.get() > 0;
    }

    private void call(MethodHandle handle, int value) {
        try {
            handle.invokeExact(state, value);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Why arenas cannot be held here, or null when they can. */
    public static String unavailableReason() {
        return Native.LIBRARY.unavailableReason();
    }

    @Override
    public String toString() {
        return state == null ? "ArenaHold[none]" : "ArenaHold[" + arena + ", state " + state() + "]";
    }
}
