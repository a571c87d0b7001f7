package org.memreg.numa;

import java.util.List;
import java.util.NoSuchElementException;

/**
 * The NUMA nodes of a machine — real ({@link SysfsTopology}, from /sys/devices/system/node) or
 * simulated ({@link SimulatedTopology}: several nodes over the one real node of a small machine,
 * for exercising placement and migration logic) — and the {@link PagePlacement} that queries,
 * binds, first-touches and moves this process's pages under it.
 *
 * <p>Implementations are immutable snapshots of the node list (free memory is as read) and
 * thread safe.
 */
public interface Topology {
    /** The nodes, ascending by id. */
    List<NumaNode> nodes();

    /** True for a simulated topology, whose nodes are not real memory. */
    boolean simulated();

    /** Where the topology comes from, for output: {@code "sysfs"} or {@code "simulated 4 nodes over 1 real"}. */
    String description();

    /** The page operations of this process under this topology. */
    PagePlacement placement();

    /** The ids of the nodes. */
    default NodeSet nodeSet() {
        return NodeSet.of(nodes().stream().mapToInt(NumaNode::id).toArray());
    }

    /**
     * Node {@code id}.
     *
     * @throws NoSuchElementException naming the existing nodes when there is no such node
     */
    default NumaNode node(int id) {
        for (NumaNode node : nodes()) {
            if (node.id() == id) {
                return node;
            }
        }
        throw new NoSuchElementException("node " + id + " does not exist (nodes: " + nodeSet() + ")");
    }

    /** The distance between two nodes. */
    default int distance(int from, int to) {
        return node(from).distanceTo(to);
    }

    /**
     * Checks that every node of {@code nodes} exists.
     *
     * @throws NoSuchElementException naming the missing nodes and the existing ones
     */
    default void requireNodes(NodeSet nodes, String what) {
        NodeSet missing = nodes.minus(nodeSet());
        if (!missing.isEmpty()) {
            throw new NoSuchElementException(what + " names node" + (missing.size() > 1 ? "s " : " ") + missing
                    + " that " + (missing.size() > 1 ? "do" : "does") + " not exist on this "
                    + (simulated() ? "simulated topology" : "machine") + " (nodes: " + nodeSet() + ")");
        }
    }
}
