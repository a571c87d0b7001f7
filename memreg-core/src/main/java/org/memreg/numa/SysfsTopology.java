package org.memreg.numa;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The real NUMA topology, read once from {@code /sys/devices/system/node/node*}: {@code cpulist},
 * {@code meminfo} (MemTotal, MemFree) and {@code distance} (one number per online node, in node
 * order). Files are read with {@code Files.readAllLines}: a single read of a sysfs or procfs
 * file can come back short on this kernel.
 *
 * <p>A machine without NUMA support still has {@code node0} here; a kernel without
 * CONFIG_NUMA has no directory at all, and {@link #read()} fails saying so.
 */
public final class SysfsTopology implements Topology {
    /** Where the kernel publishes the nodes. */
    public static final Path SYSFS_NODES = Path.of("/sys/devices/system/node");

    private final List<NumaNode> nodes;
    private final Path root;
    private final PagePlacement placement;

    private SysfsTopology(Path root, List<NumaNode> nodes) {
        this.root = root;
        this.nodes = List.copyOf(nodes);
        this.placement = LinuxPagePlacement.self(this);
    }

    /** This machine's topology. */
    public static SysfsTopology read() {
        return read(SYSFS_NODES);
    }

    /**
     * The topology under {@code root} (a directory laid out like /sys/devices/system/node).
     *
     * @throws UncheckedIOException when the directory or a node's files cannot be read or parsed
     */
    public static SysfsTopology read(Path root) {
        List<Integer> ids = new ArrayList<>();
        try (Stream<Path> entries = Files.list(root)) {
            entries.map(p -> p.getFileName().toString()).filter(n -> n.matches("node\\d+"))
                    .map(n -> Integer.parseInt(n.substring(4))).sorted().forEach(ids::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list NUMA nodes in " + root + " (kernel without CONFIG_NUMA?)", e);
        }
        if (ids.isEmpty()) {
            throw new UncheckedIOException(new IOException("no node directories in " + root));
        }
        List<NumaNode> nodes = new ArrayList<>();
        for (int id : ids) {
            nodes.add(node(root.resolve("node" + id), id, ids));
        }
        return new SysfsTopology(root, nodes);
    }

    private static NumaNode node(Path dir, int id, List<Integer> ids) {
        try {
            List<Integer> cpus = parseCpuList(String.join("", Files.readAllLines(dir.resolve("cpulist"))));
            long total = 0;
            long free = 0;
            for (String line : Files.readAllLines(dir.resolve("meminfo"))) {
                String[] words = line.trim().split("\\s+"); // "Node 0 MemTotal: 20932824 kB"
                if (words.length >= 4 && words[2].equals("MemTotal:")) {
                    total = Long.parseLong(words[3]) * 1024;
                } else if (words.length >= 4 && words[2].equals("MemFree:")) {
                    free = Long.parseLong(words[3]) * 1024;
                }
            }
            Map<Integer, Integer> distances = new HashMap<>();
            String[] numbers = String.join(" ", Files.readAllLines(dir.resolve("distance"))).trim().split("\\s+");
            for (int i = 0; i < numbers.length && i < ids.size(); i++) {
                distances.put(ids.get(i), Integer.parseInt(numbers[i]));
            }
            return new NumaNode(id, cpus, total, free, distances);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read NUMA node " + dir, e);
        } catch (NumberFormatException e) {
            throw new UncheckedIOException(new IOException("cannot parse NUMA node " + dir + ": " + e.getMessage(), e));
        }
    }

    /** Parses a CPU list such as {@code "0-3,8,10-11"} (blank: none). */
    static List<Integer> parseCpuList(String text) {
        List<Integer> cpus = new ArrayList<>();
        String trimmed = text.strip();
        if (trimmed.isEmpty()) {
            return cpus;
        }
        for (String element : trimmed.split(",")) {
            int dash = element.indexOf('-');
            int first = Integer.parseInt(element.substring(0, dash < 0 ? element.length() : dash).strip());
            int last = dash < 0 ? first : Integer.parseInt(element.substring(dash + 1).strip());
            for (int cpu = first; cpu <= last; cpu++) {
                cpus.add(cpu);
            }
        }
        return cpus;
    }

    @Override
    public List<NumaNode> nodes() {
        return nodes;
    }

    @Override
    public boolean simulated() {
        return false;
    }

    @Override
    public String description() {
        return "sysfs (" + root + ")";
    }

    @Override
    public PagePlacement placement() {
        return placement;
    }

    /** The page operations of process {@code pid} (another process: same uid or CAP_SYS_NICE). */
    public PagePlacement placement(int pid) {
        return LinuxPagePlacement.of(this, pid);
    }
}
