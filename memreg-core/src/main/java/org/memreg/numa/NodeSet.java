package org.memreg.numa;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.stream.IntStream;
import java.util.stream.LongStream;

/**
 * An immutable set of NUMA node ids {@code 0..}{@value #MAX_NODE}, held as a bitmask, written in
 * Linux's node-list syntax: ascending, comma separated, runs of two or more as ranges
 * ({@code "0-3,5,7-8"}), the empty set as {@code ""}. That is the format of
 * {@code /sys/devices/system/node/online}, {@code numactl --membind} and {@code migratepages}.
 *
 * <p>Iteration and {@link #nth(int)} go in ascending node order; the order matters, since node
 * remapping pairs the n-th node of one set with the n-th node of another.
 */
public final class NodeSet implements Iterable<Integer> {
    /** The largest node id a set can hold. */
    public static final int MAX_NODE = 63;

    private static final NodeSet EMPTY = new NodeSet(0L);

    private final long mask;

    private NodeSet(long mask) {
        this.mask = mask;
    }

    /** The empty set. */
    public static NodeSet empty() {
        return EMPTY;
    }

    /** The set whose node {@code n} is present when bit {@code n} of {@code mask} is set. */
    public static NodeSet ofMask(long mask) {
        return mask == 0 ? EMPTY : new NodeSet(mask);
    }

    /**
     * The set of the given nodes; duplicates are allowed.
     *
     * @throws IllegalArgumentException if a node is negative or above {@value #MAX_NODE}
     */
    public static NodeSet of(int... nodes) {
        long mask = 0;
        for (int node : nodes) {
            mask |= bit(node);
        }
        return ofMask(mask);
    }

    /**
     * Parses a node list such as {@code "0-3"}, {@code "0,2,5-7"} or {@code "1"}. Blanks around
     * the whole list and around each element are ignored (sysfs files end in a newline); a blank
     * list is the empty set. Overlapping or unordered elements are accepted ({@code "3,0-1,1"}).
     *
     * @throws IllegalArgumentException naming the input and the bad element, for a negative or
     *     reversed range, a node above {@value #MAX_NODE}, an empty element ({@code "1,,2"}) or
     *     anything that is not a decimal node or range (including the kernel's {@code ":stride"}
     *     form, which this parser does not support)
     */
    public static NodeSet parse(String list) {
        String text = list.strip();
        if (text.isEmpty()) {
            return EMPTY;
        }
        long mask = 0;
        for (String raw : text.split(",", -1)) {
            String element = raw.strip();
            if (element.isEmpty()) {
                throw bad(list, raw, "empty element");
            }
            int dash = element.indexOf('-', 1);
            int first = parseNode(list, element, dash < 0 ? element : element.substring(0, dash));
            int last = dash < 0 ? first : parseNode(list, element, element.substring(dash + 1));
            if (last < first) {
                throw bad(list, element, "reversed range");
            }
            mask |= last == MAX_NODE ? -1L << first : (1L << (last + 1)) - (1L << first);
        }
        return ofMask(mask);
    }

    private static int parseNode(String list, String element, String number) {
        String digits = number.strip();
        if (digits.startsWith("-")) {
            throw bad(list, element, "negative node");
        }
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw bad(list, element, "not a node number or range");
        }
        if (digits.length() > 9 || Integer.parseInt(digits) > MAX_NODE) {
            throw bad(list, element, "node above " + MAX_NODE);
        }
        return Integer.parseInt(digits);
    }

    private static IllegalArgumentException bad(String list, String element, String why) {
        return new IllegalArgumentException(
                "bad node list \"" + list + "\": " + why + " in \"" + element.strip() + "\"");
    }

    private static long bit(int node) {
        if (node < 0 || node > MAX_NODE) {
            throw new IllegalArgumentException("node " + node + " is outside 0.." + MAX_NODE);
        }
        return 1L << node;
    }

    /** The bitmask: bit {@code n} set when node {@code n} is in the set. */
    public long mask() {
        return mask;
    }

    /** The number of nodes (the kernel's {@code nodes_weight}). */
    public int size() {
        return Long.bitCount(mask);
    }

    public boolean isEmpty() {
        return mask == 0;
    }

    /** True if {@code node} is in the set; false for any id outside {@code 0..63}. */
    public boolean contains(int node) {
        return node >= 0 && node <= MAX_NODE && (mask & (1L << node)) != 0;
    }

    /**
     * The {@code index}-th node in ascending order, counting from zero.
     *
     * @throws IndexOutOfBoundsException unless {@code 0 <= index < size()}
     */
    public int nth(int index) {
        if (index < 0 || index >= size()) {
            throw new IndexOutOfBoundsException("index " + index + " in node set \"" + this + "\" of size " + size());
        }
        long rest = mask;
        for (int i = 0; i < index; i++) {
            rest &= rest - 1;
        }
        return Long.numberOfTrailingZeros(rest);
    }

    /** The position of {@code node} in ascending order, or -1 if it is not in the set. */
    public int indexOf(int node) {
        return contains(node) ? Long.bitCount(mask & ((1L << node) - 1)) : -1;
    }

    public NodeSet union(NodeSet other) {
        return ofMask(mask | other.mask);
    }

    public NodeSet intersection(NodeSet other) {
        return ofMask(mask & other.mask);
    }

    /** The nodes of this set that are not in {@code other}. */
    public NodeSet minus(NodeSet other) {
        return ofMask(mask & ~other.mask);
    }

    /** The nodes in ascending order. */
    public IntStream stream() {
        return LongStream.iterate(mask, m -> m != 0, m -> m & (m - 1)).mapToInt(Long::numberOfTrailingZeros);
    }

    @Override
    public Iterator<Integer> iterator() {
        return new Iterator<>() {
            private long rest = mask;

            @Override
            public boolean hasNext() {
                return rest != 0;
            }

            @Override
            public Integer next() {
                if (rest == 0) {
                    throw new NoSuchElementException();
                }
                int node = Long.numberOfTrailingZeros(rest);
                rest &= rest - 1;
                return node;
            }
        };
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof NodeSet set && set.mask == mask;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(mask);
    }

    /**
     * The set in node-list syntax, as the kernel prints it ({@code %*pbl}): {@code "0-3,5"}, runs of
     * two or more as ranges, {@code ""} when empty. {@link #parse(String)} reads it back.
     */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        long rest = mask;
        while (rest != 0) {
            int first = Long.numberOfTrailingZeros(rest);
            int end = first == MAX_NODE ? 64 : first + Long.numberOfTrailingZeros(~(rest >>> first));
            if (!out.isEmpty()) {
                out.append(',');
            }
            out.append(first);
            if (end - first > 1) {
                out.append('-').append(end - 1);
            }
            rest = end == 64 ? 0 : rest & (-1L << end);
        }
        return out.toString();
    }
}
