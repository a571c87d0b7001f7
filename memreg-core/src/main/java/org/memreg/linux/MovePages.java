package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@code move_pages(2)}: where the pages of a process sit (no target nodes given) and moving
 * them, one page at a time, to given nodes. Works on this process ({@link #SELF}) or, with the
 * same uid or CAP_SYS_NICE, on another one by pid.
 *
 * <p>Per page the kernel writes a status: the node the page is (now) on, or a negative errno.
 * Querying gives {@link #NOT_PRESENT} for a page never touched (or swapped out) and
 * {@link #ZERO_PAGE} for a page only ever read (it maps the shared zero page) — and, the same
 * code, for an address no mapping covers. Older kernels (seen on Linux 6.1) also answer
 * {@code -EFAULT} for a page never touched; {@code org.memreg.numa.PagePlacement} tells the two
 * apart with pagemap's present bit. Moving can also give -EACCES (the page is mapped by
 * several processes; MPOL_MF_MOVE_ALL, which needs CAP_SYS_NICE, moves it anyway), -EBUSY
 * (pinned or locked for I/O right now), -ENOMEM (the target node is full) and others; see
 * {@link #describe}.
 *
 * <p>Failures of the call as a whole (ENODEV: a target node is not online; ESRCH: no such
 * process; EPERM: not allowed) come back as the negative return value; nothing throws.
 */
public final class MovePages {
    /** The pid meaning "this process". */
    public static final int SELF = 0;
    /** Page status: not present (never touched, or swapped out): {@code -ENOENT}. */
    public static final int NOT_PRESENT = -Errno.ENOENT;
    /** Page status: the shared zero page, or no mapping at that address: {@code -EFAULT}. */
    public static final int ZERO_PAGE = -Errno.EFAULT;
    /** Page status: mapped by several processes, not moved without MOVE_ALL: {@code -EACCES}. */
    public static final int SHARED = -Errno.EACCES;
    /** Page status: busy (pinned, under I/O) and not moved: {@code -EBUSY}. */
    public static final int BUSY = -Errno.EBUSY;
    /** Page status: the target node had no free memory: {@code -ENOMEM}. */
    public static final int NO_MEMORY = -Errno.ENOMEM;
    /** Flag: move pages mapped only by this process (the default when moving). */
    public static final int MPOL_MF_MOVE = 2;
    /** Flag: move shared pages too (needs CAP_SYS_NICE). */
    public static final int MPOL_MF_MOVE_ALL = 4;

    private MovePages() {
    }

    /**
     * Writes the status of page {@code pages[i]} of process {@code pid} into {@code status[i]},
     * for {@code i < count}: its node, or {@link #NOT_PRESENT} / {@link #ZERO_PAGE}.
     *
     * @return 0, or {@code -errno} when the call failed as a whole (ESRCH, EPERM, ...)
     */
    public static int query(int pid, long[] pages, int[] status, int count) {
        return (int) call(pid, pages, null, status, count, 0);
    }

    /**
     * Moves page {@code pages[i]} of process {@code pid} to node {@code nodes[i]}, for
     * {@code i < count}, and writes its outcome to {@code status[i]}: the node it is on now, or
     * a negative errno. Pages already on their target node are left alone and report it.
     *
     * @param flags {@link #MPOL_MF_MOVE} or {@link #MPOL_MF_MOVE_ALL}
     * @return how many pages were not moved (Linux 4.17+; older kernels say 0 and leave it to
     *     the statuses), or {@code -errno} when the call failed as a whole — ENODEV when a target
     *     node does not exist or is offline, then no status is meaningful
     */
    public static long move(int pid, long[] pages, int[] nodes, int[] status, int count, int flags) {
        if (nodes.length < count) {
            throw new IllegalArgumentException(count + " pages but " + nodes.length + " nodes");
        }
        return call(pid, pages, nodes, status, count, flags);
    }

    /** A page status in words: {@code "node 3"}, {@code "not present"}, {@code "zero page"}, or the errno name. */
    public static String describe(int status) {
        return switch (status) {
            case NOT_PRESENT -> "not present";
            case ZERO_PAGE -> "zero page or unmapped";
            default -> status >= 0 ? "node " + status : Errno.name(-status);
        };
    }

    private static long call(int pid, long[] pages, int[] nodes, int[] status, int count, int flags) {
        if (count < 0 || pages.length < count || status.length < count) {
            throw new IllegalArgumentException("bad page count " + count);
        }
        if (count == 0) {
            return 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pageArray = arena.allocate(JAVA_LONG, count);
            MemorySegment.copy(pages, 0, pageArray, JAVA_LONG, 0, count);
            long nodeArray = 0L;
            if (nodes != null) {
                MemorySegment segment = arena.allocate(JAVA_INT, count);
                MemorySegment.copy(nodes, 0, segment, JAVA_INT, 0, count);
                nodeArray = segment.address();
            }
            MemorySegment statusArray = arena.allocate(JAVA_INT, count);
            long result = NumaSyscalls.call(NumaSyscalls.MOVE_PAGES, pid, count, pageArray.address(),
                    nodeArray, statusArray.address(), flags);
            if (result >= 0) {
                MemorySegment.copy(statusArray, JAVA_INT, 0, status, 0, count);
            }
            return result;
        }
    }
}
