package org.memreg.numa;

import java.util.List;
import java.util.Map;

/**
 * One NUMA node of a {@link Topology}: its id, the CPUs local to it, its memory and its
 * distances (the ACPI SLIT numbers: 10 to itself, larger is farther) to every node.
 *
 * @param id the node id
 * @param cpus the CPUs of the node, ascending (may be empty: a memory-only node)
 * @param totalBytes memory of the node
 * @param freeBytes free memory of the node when the topology was read
 * @param distances node id to distance, for every node of the topology
 */
public record NumaNode(int id, List<Integer> cpus, long totalBytes, long freeBytes, Map<Integer, Integer> distances) {
    public NumaNode {
        cpus = List.copyOf(cpus);
        distances = Map.copyOf(distances);
    }

    /** The distance to node {@code other}, or -1 when the topology gave none. */
    public int distanceTo(int other) {
        return distances.getOrDefault(other, -1);
    }
}
