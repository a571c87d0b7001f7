package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Decodes the {@code struct uffd_msg} records that {@link Userfaultfd#readEvents} reads into a
 * caller-owned buffer. Static accessors take the buffer and a record index, so a reader thread
 * looping over events allocates nothing.
 *
 * <pre>
 *  0       1             8              16             24            32
 * +-------+-------------+--------------+--------------+-------------+
 * | event | reserved    | union arg (24 bytes)                        |
 * +-------+-------------+--------------+--------------+-------------+
 *   PAGEFAULT 0x12:       flags          address        ptid (u32)
 *   REMAP     0x14:       from           to             len
 *   REMOVE    0x15:       start          end
 *   UNMAP     0x16:       start          end
 * </pre>
 */
public final class UffdMessage {
    /** Bytes per record. */
    public static final long SIZE = 32;
    /** A thread touched a page of a registered range (MISSING, WP or MINOR). */
    public static final int EVENT_PAGEFAULT = 0x12;
    /** The process forked (needs EVENT_FORK, which needs CAP_SYS_PTRACE). */
    public static final int EVENT_FORK = 0x13;
    /** A registered range was moved by mremap. */
    public static final int EVENT_REMAP = 0x14;
    /** Pages of a registered range are about to be dropped (madvise DONTNEED/FREE/REMOVE). */
    public static final int EVENT_REMOVE = 0x15;
    /** A registered range has been unmapped (munmap, or mmap MAP_FIXED over it). */
    public static final int EVENT_UNMAP = 0x16;
    /** Pagefault flag: the access was a write. */
    public static final long PAGEFAULT_FLAG_WRITE = 1;
    /** Pagefault flag: the fault hit a write-protected page (WP mode). */
    public static final long PAGEFAULT_FLAG_WP = 2;
    /** Pagefault flag: a minor fault (MINOR mode). */
    public static final long PAGEFAULT_FLAG_MINOR = 4;

    private static final long ARG0 = 8;
    private static final long ARG1 = 16;
    private static final long ARG2 = 24;

    private UffdMessage() {
    }

    /** A native buffer for {@code count} records, owned by {@code arena}. */
    public static MemorySegment allocate(Arena arena, int count) {
        return arena.allocate(SIZE * count, 8);
    }

    /** The event code of record {@code index}: one of the {@code EVENT_*} constants. */
    public static int event(MemorySegment buffer, int index) {
        return Byte.toUnsignedInt(buffer.get(JAVA_BYTE, index * SIZE));
    }

    /** PAGEFAULT: the {@code PAGEFAULT_FLAG_*} bits. */
    public static long pagefaultFlags(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG0);
    }

    /** PAGEFAULT: the faulting address, rounded down to its page (unless EXACT_ADDRESS). */
    public static long pagefaultAddress(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG1);
    }

    /** PAGEFAULT: the faulting thread's id (needs THREAD_ID), else 0. */
    public static int pagefaultThreadId(MemorySegment buffer, int index) {
        return buffer.get(JAVA_INT_UNALIGNED, index * SIZE + ARG2);
    }

    /** REMOVE and UNMAP: the first byte of the range. */
    public static long rangeStart(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG0);
    }

    /** REMOVE and UNMAP: the byte after the range. */
    public static long rangeEnd(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG1);
    }

    /** REMAP: the old start address. */
    public static long remapFrom(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG0);
    }

    /** REMAP: the new start address. */
    public static long remapTo(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG1);
    }

    /** REMAP: the old length in bytes. */
    public static long remapLength(MemorySegment buffer, int index) {
        return buffer.get(JAVA_LONG_UNALIGNED, index * SIZE + ARG2);
    }

    /** The name of an event code, such as {@code "UNMAP"}. */
    public static String eventName(int event) {
        return switch (event) {
            case EVENT_PAGEFAULT -> "PAGEFAULT";
            case EVENT_FORK -> "FORK";
            case EVENT_REMAP -> "REMAP";
            case EVENT_REMOVE -> "REMOVE";
            case EVENT_UNMAP -> "UNMAP";
            default -> "event 0x" + Integer.toHexString(event);
        };
    }

    /** Record {@code index} in words, for logs and test failures (allocates). */
    public static String describe(MemorySegment buffer, int index) {
        int event = event(buffer, index);
        return switch (event) {
            case EVENT_PAGEFAULT -> String.format("PAGEFAULT flags=%d address=0x%x tid=%d",
                    pagefaultFlags(buffer, index), pagefaultAddress(buffer, index),
                    pagefaultThreadId(buffer, index));
            case EVENT_REMAP -> String.format("REMAP from=0x%x to=0x%x len=%d",
                    remapFrom(buffer, index), remapTo(buffer, index), remapLength(buffer, index));
            case EVENT_REMOVE, EVENT_UNMAP -> String.format("%s [0x%x, 0x%x)", eventName(event),
                    rangeStart(buffer, index), rangeEnd(buffer, index));
            default -> eventName(event);
        };
    }
}
