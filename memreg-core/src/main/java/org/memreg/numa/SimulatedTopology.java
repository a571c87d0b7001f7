package org.memreg.numa;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A <em>simulated</em> multi-node topology over the real machine, for machines with one NUMA
 * node (like the ones memreg is developed on): {@code n} nodes that share the real CPUs (node
 * {@code i} gets every CPU whose position is {@code i mod n}, or CPU {@code i mod cpus} when
 * there are fewer CPUs than nodes), an equal share of the real memory each, and distances 10
 * to itself and {@value #REMOTE_DISTANCE} to every other node.
 *
 * <p>Its {@link #placement()} is a {@link SimulatedPagePlacement}: real pages of this process
 * with a simulated node each, kept in its own page→node map. First touch, binding and moving go
 * through the same {@link PagePlacement} interface as the real kernel, so placement and
 * migration logic can run end to end against several nodes; a simulated move gives the page a
 * new physical frame, as a real one does. Nothing here is real NUMA: no memory is closer to any
 * CPU, and other processes' pages are not simulated.
 */
public final class SimulatedTopology implements Topology {
    /** Distance between two different simulated nodes. */
    public static final int REMOTE_DISTANCE = 20;

    private final List<NumaNode> nodes;
    private final SimulatedPagePlacement placement;

    private SimulatedTopology(List<NumaNode> nodes, int defaultNode) {
        this.nodes = List.copyOf(nodes);
        this.placement = new SimulatedPagePlacement(this, defaultNode);
    }

    /** {@code count} simulated nodes over this machine's real topology. */
    public static SimulatedTopology of(int count) {
        return over(SysfsTopology.read(), count);
    }

    /**
     * {@code count} simulated nodes over {@code real}'s CPUs and memory.
     *
     * @throws IllegalArgumentException unless {@code 1 <= count <= NodeSet.MAX_NODE + 1}
     */
    public static SimulatedTopology over(Topology real, int count) {
        if (count < 1 || count > NodeSet.MAX_NODE + 1) {
            throw new IllegalArgumentException("simulated node count must be 1.." + (NodeSet.MAX_NODE + 1) + ", got " + count);
        }
        List<Integer> cpus = new ArrayList<>();
        long total = 0;
        long free = 0;
        for (NumaNode node : real.nodes()) {
            cpus.addAll(node.cpus());
            total += node.totalBytes();
            free += node.freeBytes();
        }
        List<NumaNode> nodes = new ArrayList<>();
        for (int id = 0; id < count; id++) {
            List<Integer> mine = new ArrayList<>();
            for (int i = id; i < cpus.size(); i += count) {
                mine.add(cpus.get(i));
            }
            if (mine.isEmpty() && !cpus.isEmpty()) {
                mine.add(cpus.get(id % cpus.size()));
            }
            Map<Integer, Integer> distances = new HashMap<>();
            for (int other = 0; other < count; other++) {
                distances.put(other, other == id ? 10 : REMOTE_DISTANCE);
            }
            nodes.add(new NumaNode(id, mine, total / count, free / count, distances));
        }
        return new SimulatedTopology(nodes, 0);
    }

    @Override
    public List<NumaNode> nodes() {
        return nodes;
    }

    @Override
    public boolean simulated() {
        return true;
    }

    @Override
    public String description() {
        return "simulated: " + nodes.size() + " nodes over the real machine";
    }

    @Override
    public SimulatedPagePlacement placement() {
        return placement;
    }
}
