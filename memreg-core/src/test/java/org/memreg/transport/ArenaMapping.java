package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.memreg.linux.Mman;

/**
 * A test's own anonymous mapping, seen through an arena that the test closes as a careless caller
 * would: the close ends the segment while the memory stays mapped, so that what UCX writes into it
 * afterwards shows in the bytes instead of crashing the JVM.
 */
final class ArenaMapping implements AutoCloseable {
    private final long address;
    private final long bytes;
    private final Arena arena;

    /** Maps {@code bytes}, seen through {@code arena} ({@link #buffer}), which {@link #close} closes if the test did not. */
    ArenaMapping(long bytes, Arena arena) {
        this.bytes = bytes;
        this.arena = arena;
        this.address = Mman.mapAnonymous(bytes);
    }

    /** The arena the test closes. */
    Arena arena() {
        return arena;
    }

    /** The mapping as memory of {@link #arena}. */
    MemorySegment buffer() {
        return through(arena);
    }

    /** The mapping as memory of {@code arena}: gone for Java once the arena closes. */
    @SuppressWarnings("restricted")
    MemorySegment through(Arena arena) {
        return MemorySegment.ofAddress(address).reinterpret(bytes, arena, null);
    }

    /** The mapping itself, whatever became of the arena. */
    @SuppressWarnings("restricted")
    MemorySegment mapped() {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    /** Waits until {@code condition} holds, at most 20 s. */
    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.sleep(1);
        }
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
        Mman.munmap(address, bytes);
    }
}
