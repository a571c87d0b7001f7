package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import org.memreg.linux.Errno;
import org.memreg.linux.Userfaultfd;
import org.memreg.util.NativeResource;

/**
 * The userfaultfd reader thread of {@code src/main/native/memreg_uffd.c} (built into this
 * package as {@value #RESOURCE}), and Java's side of its struct: a pthread that never enters
 * Java reads the events, so a thread that sleeps in the kernel until its unmap's event is read
 * is woken even while the JVM waits for that very thread to reach a safepoint.
 *
 * <p>The reader raises a {@link SequenceCells cell} (the batches it has taken: the gate reads
 * it on every hit) before each read, puts the ranges into a ring of native memory, then marks the
 * batch written and signals the ready eventfd. One Java thread at a time {@link #awaitWritten()
 * waits for the batches taken so far} and {@link #drain drains} the ring. The layout comes from
 * the library ({@code memreg_uffd_layout}), so C and Java cannot disagree.
 */
final class NativeUffdReader implements AutoCloseable {
    static final String RESOURCE = "libmemreg-uffd.so";
    private static final NativeResource LIBRARY = NativeResource.load(NativeUffdReader.class, RESOURCE, NativeUffdReader::open);
    private static final MethodHandle START = LIBRARY.downcall("memreg_uffd_start", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle FINISH = LIBRARY.downcall("memreg_uffd_finish", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final long[] LAYOUT = LIBRARY.layout("memreg_uffd_layout", 21);

    private static final long SIZE = LAYOUT[0];
    private static final long TAKEN = LAYOUT[1];
    private static final long UFFD = LAYOUT[2];
    private static final long STOP_FD = LAYOUT[3];
    private static final long READY_FD = LAYOUT[4];
    private static final long REALTIME = LAYOUT[5];
    private static final long PAGE_SIZE = LAYOUT[6];
    private static final long WRITTEN = LAYOUT[7];
    private static final long HEAD = LAYOUT[8];
    private static final long OVERFLOWS = LAYOUT[9];
    private static final long PAGE_FAULTS = LAYOUT[10];
    private static final long OVERFLOW = LAYOUT[11];
    private static final long STOPPED = LAYOUT[12];
    private static final long TAIL = LAYOUT[13];
    private static final long RING = LAYOUT[14];
    private static final long SLOT_SIZE = LAYOUT[15];
    private static final long SLOT_EVENT = LAYOUT[16];
    private static final long SLOT_START = LAYOUT[17];
    private static final long SLOT_END = LAYOUT[18];
    private static final long SLOT_TAKEN = LAYOUT[19];
    private static final long RING_SLOTS = LAYOUT[20];
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();

    /** Receives a drained range: the uffd_msg event it came from, the range, and when it was read. */
    @FunctionalInterface
    interface RangeSink {
        void accept(int event, long start, long end, long takenNanos);
    }

    private final Arena arena = Arena.ofShared();
    private final Userfaultfd uffd;
    private final MemorySegment segment;
    private final long takenCell;
    private boolean started;
    private boolean closed;
    /** The counters' final values, once the struct is freed (its arena closed; under this reader's lock). */
    private long pageFaultsAtClose;
    private long overflowsAtClose;

    /**
     * A reader, not started yet, of {@code uffd}, which it closes in {@link #close()}; it stops
     * once {@code stopFd} is readable and signals {@code readyFd} after every batch.
     *
     * @throws IllegalStateException when {@link SequenceCells#CELLS} cells are claimed
     */
    NativeUffdReader(Userfaultfd uffd, int stopFd, int readyFd, boolean realtime, long pageSize) {
        this.uffd = uffd;
        takenCell = SequenceCells.claim();
        try {
            segment = arena.allocate(SIZE, 64); // zeroed: an empty ring
        } catch (RuntimeException | OutOfMemoryError e) {
            SequenceCells.release(takenCell);
            throw e;
        }
        LONG.set(segment, TAKEN, SequenceCells.address(takenCell));
        INT.set(segment, UFFD, uffd.fd());
        INT.set(segment, STOP_FD, stopFd);
        INT.set(segment, READY_FD, readyFd);
        INT.set(segment, REALTIME, realtime ? 1 : 0);
        LONG.set(segment, PAGE_SIZE, pageSize);
    }

    /** Why the library cannot be used here, or null when it can. */
    static String unavailableReason() {
        return LIBRARY.unavailableReason();
    }

    /** Starts the thread (pthread_create publishes the fields written so far). */
    void start() {
        int error;
        try {
            error = (int) START.invokeExact(segment.address());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (error != 0) {
            throw new IllegalStateException("cannot start the userfaultfd reader thread: " + Errno.name(error));
        }
        started = true;
    }

    /** The cell of the batches taken (raised before each read): the gate's count. */
    long takenCell() {
        return takenCell;
    }

    /**
     * Waits until every batch taken so far has its ranges in the ring (the reader marks it at
     * once after its read; it never waits for Java) and returns their count.
     */
    long awaitWritten() {
        long target = SequenceCells.read(takenCell);
        for (int spins = 0; (long) LONG.getAcquire(segment, WRITTEN) < target; spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the reader was preempted between its read and the mark
            }
        }
        return target;
    }

    /**
     * Passes every range in the ring, oldest first, to {@code sink}; one thread at a time.
     *
     * @return true when ranges were lost to a full ring since the last drain (treat everything as changed)
     */
    boolean drain(RangeSink sink) {
        boolean lost = (int) INT.getAndSet(segment, OVERFLOW, 0) != 0;
        long head = (long) LONG.getAcquire(segment, HEAD);
        for (long pos = (long) LONG.get(segment, TAIL); pos < head; pos++) {
            long slot = RING + (pos & (RING_SLOTS - 1)) * SLOT_SIZE;
            int event = (int) (long) LONG.get(segment, slot + SLOT_EVENT);
            long start = (long) LONG.get(segment, slot + SLOT_START);
            long end = (long) LONG.get(segment, slot + SLOT_END);
            long taken = (long) LONG.get(segment, slot + SLOT_TAKEN);
            LONG.setRelease(segment, TAIL, pos + 1); // the slot may be reused from here on
            sink.accept(event, start, end, taken);
        }
        return lost;
    }

    /** 0 while the thread runs; -1 once it stopped as asked; else the errno that stopped it. */
    int stoppedBy() {
        return (int) INT.getAcquire(segment, STOPPED);
    }

    /**
     * Page-fault messages answered with the zero page (any thread, also after {@link #close()}).
     * Under the lock that the struct's free takes: a shared arena closed while another thread
     * reads it sets that thread's interrupt flag on JDK 25 (JDK-8306324), a stray interrupt in
     * the caller's code.
     */
    synchronized long pageFaults() {
        return arena.scope().isAlive() ? (long) LONG.getAcquire(segment, PAGE_FAULTS) : pageFaultsAtClose;
    }

    /** Ranges lost to a full ring (any thread, also after {@link #close()}; locked as {@link #pageFaults()}). */
    synchronized long overflows() {
        return arena.scope().isAlive() ? (long) LONG.getAcquire(segment, OVERFLOWS) : overflowsAtClose;
    }

    /**
     * Waits for the thread to end (the caller has made the stop eventfd readable) and closes the
     * userfaultfd in the same native call, then frees the struct and the cell. Idempotent.
     *
     * <p>Nothing may run in Java between the reader's end and that close: until the close, a
     * thread that unmaps watched memory sleeps, and this thread, stopping at a safepoint or
     * freeing memory (the ring below may share a malloc arena with watched pages), could wait for
     * it. Unstarted, the reader leaves the userfaultfd to {@code uffd.close()}, done here too.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!started) {
            uffd.close();
        } else {
            int error = finish(uffd.handOff() >= 0); // not if it was closed elsewhere: its number may be another's
            if (error != 0) {
                throw new IllegalStateException("cannot join the userfaultfd reader thread: " + Errno.name(error)
                        + "; its memory and the userfaultfd are kept");
            }
        }
        synchronized (this) { // no counter is being read as the struct goes (see pageFaults)
            pageFaultsAtClose = pageFaults(); // the thread has ended: final
            overflowsAtClose = overflows();
            arena.close();
        }
        SequenceCells.release(takenCell);
    }

    /** Calls {@code memreg_uffd_finish} for this struct: 0 or pthread_join's errno. */
    private int finish(boolean closeUffd) {
        try {
            return (int) FINISH.invokeExact(segment.address(), closeUffd ? 1 : 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @SuppressWarnings("restricted") // our own library, which needs nothing but libc
    private static SymbolLookup open(Path library) {
        return SymbolLookup.libraryLookup(library, Arena.global());
    }
}
