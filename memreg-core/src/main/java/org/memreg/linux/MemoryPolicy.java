package org.memreg.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;

/**
 * NUMA memory policy of a range: {@code mbind(2)} sets it, {@code get_mempolicy(2)} reads it.
 * A policy decides where pages are allocated when they are first faulted in; with
 * {@link #MPOL_MF_MOVE} mbind also moves the pages already there that break it.
 */
public final class MemoryPolicy {
    /** Policy: the process default (allocate on the faulting CPU's node). */
    public static final int MPOL_DEFAULT = 0;
    /** Policy: prefer one node, fall back to others. */
    public static final int MPOL_PREFERRED = 1;
    /** Policy: allocate only on the given nodes. */
    public static final int MPOL_BIND = 2;
    /** Policy: interleave page by page over the given nodes. */
    public static final int MPOL_INTERLEAVE = 3;
    /** Policy: allocate on the faulting CPU's node. */
    public static final int MPOL_LOCAL = 4;
    /** mbind flag: fail with EIO when existing pages break the policy. */
    public static final int MPOL_MF_STRICT = 1;
    /** mbind flag: move existing pages mapped only by this process to comply. */
    public static final int MPOL_MF_MOVE = 2;
    /** mbind flag: move shared pages too (needs CAP_SYS_NICE). */
    public static final int MPOL_MF_MOVE_ALL = 4;
    private static final int MPOL_F_NODE = 1;
    private static final int MPOL_F_ADDR = 2;

    /** A policy: its mode and nodes. */
    public record Policy(int mode, BitSet nodes) {
    }

    private MemoryPolicy() {
    }

    /**
     * {@code mbind(address, length, mode, nodes, flags)} on a page-aligned range of this process.
     *
     * @throws LinuxException EINVAL for an empty or non-existent node set or a bad range,
     *     EFAULT for unmapped memory, EIO under MPOL_MF_STRICT when pages could not comply,
     *     EPERM for MPOL_MF_MOVE_ALL without CAP_SYS_NICE
     */
    public static void mbind(long address, long length, int mode, BitSet nodes, int flags) {
        long result;
        try (Arena arena = Arena.ofConfined()) {
            long mask = nodes.isEmpty() && mode == MPOL_DEFAULT ? 0L : NodeMask.of(arena, nodes).address();
            result = NumaSyscalls.call(NumaSyscalls.MBIND, address, length, mode, mask,
                    mask == 0L ? 0L : NodeMask.maxnode(), flags);
        }
        if (result < 0) {
            throw new LinuxException("mbind", (int) -result, String.format("0x%x + %d to nodes %s", address, length, nodes));
        }
    }

    /** The policy that governs the page at {@code address} of this process. */
    public static Policy policyAt(long address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mode = arena.allocate(JAVA_INT);
            MemorySegment mask = NodeMask.empty(arena);
            long result = NumaSyscalls.call(NumaSyscalls.GET_MEMPOLICY, mode.address(), mask.address(),
                    NodeMask.maxnode(), address, MPOL_F_ADDR, 0);
            if (result < 0) {
                throw new LinuxException("get_mempolicy", (int) -result, String.format("policy at 0x%x", address));
            }
            return new Policy(mode.get(JAVA_INT, 0), NodeMask.read(mask));
        }
    }

    /** The node the page at {@code address} of this process is on, faulting it in if needed. */
    public static int nodeOf(long address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment node = arena.allocate(JAVA_INT);
            long result = NumaSyscalls.call(NumaSyscalls.GET_MEMPOLICY, node.address(), 0, 0, address,
                    MPOL_F_NODE | MPOL_F_ADDR, 0);
            if (result < 0) {
                throw new LinuxException("get_mempolicy", (int) -result, String.format("node of 0x%x", address));
            }
            return node.get(JAVA_INT, 0);
        }
    }
}
