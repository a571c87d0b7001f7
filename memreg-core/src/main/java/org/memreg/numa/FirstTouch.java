package org.memreg.numa;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.memreg.util.OpenArena;

/**
 * First-touch placement, the way most NUMA programs place their data (shared/seeds/004): split a
 * buffer into parts and touch each part from a thread pinned to the node that should hold it,
 * so that the kernel (or a {@link SimulatedTopology}) allocates its pages there.
 */
public final class FirstTouch {
    /** One part of a buffer and the node it was touched from. */
    public record Part(long address, long length, int node) {
    }

    private FirstTouch() {
    }

    /**
     * Splits {@code buffer} into {@code nodes.length} parts of whole pages (the last one takes
     * the rest) and touches part {@code i} from node {@code nodes[i]}. Pages already present
     * stay where they are.
     *
     * @return the parts, in address order
     * @throws IllegalArgumentException when there are more nodes than pages, or none, or the
     *     segment is read-only (a touch writes)
     * @throws IllegalStateException when the segment's arena is closed
     * @throws java.util.NoSuchElementException when a node does not exist
     */
    public static List<Part> spread(PagePlacement placement, MemorySegment buffer, int... nodes)
            throws InterruptedException {
        OpenArena.require(buffer, "first touch");
        if (buffer.isReadOnly()) { // a touch is a write: into memory mapped read-only, a SIGSEGV
            throw new IllegalArgumentException("first touch writes every page, and the segment is read-only: " + buffer);
        }
        long pageSize = placement.pageSize();
        long start = buffer.address() - Long.remainderUnsigned(buffer.address(), pageSize);
        long pages = Math.ceilDiv(buffer.address() + buffer.byteSize() - start, pageSize);
        if (nodes.length == 0 || nodes.length > pages) {
            throw new IllegalArgumentException(nodes.length + " nodes for " + pages + " pages");
        }
        for (int node : nodes) {
            placement.topology().node(node);
        }
        List<Part> parts = new ArrayList<>();
        long perPart = pages / nodes.length;
        for (int i = 0; i < nodes.length; i++) {
            long first = start + i * perPart * pageSize;
            long length = (i == nodes.length - 1 ? pages - i * perPart : perPart) * pageSize;
            placement.touchFrom(nodes[i], first, length);
            parts.add(new Part(first, length, nodes[i]));
        }
        return parts;
    }
}
