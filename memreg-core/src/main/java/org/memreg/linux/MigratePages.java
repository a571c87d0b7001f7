package org.memreg.linux;

import java.lang.foreign.Arena;
import java.util.BitSet;

/**
 * {@code migrate_pages(2)}: moves every page of a whole process that sits on a node of
 * {@code from} to the node of {@code to} at the same relative position, the kernel keeping the
 * relative placement (and ordering the moves itself when the two sets overlap). Another
 * process needs the same uid or CAP_SYS_NICE; target nodes outside the process's cpuset need
 * CAP_SYS_NICE.
 */
public final class MigratePages {
    private MigratePages() {
    }

    /**
     * {@code migrate_pages(pid, maxnode, from, to)}.
     *
     * @return the number of pages that could not be moved (0: all moved), or {@code -errno}:
     *     -ESRCH no such process, -EPERM not allowed, -EINVAL a node mask names nodes that do not
     *     exist or are not allowed
     */
    public static long migrate(int pid, BitSet from, BitSet to) {
        try (Arena arena = Arena.ofConfined()) {
            return NumaSyscalls.call(NumaSyscalls.MIGRATE_PAGES, pid, NodeMask.maxnode(),
                    NodeMask.of(arena, from).address(), NodeMask.of(arena, to).address(), 0, 0);
        }
    }
}
