package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parsing a sysfs node tree with several nodes (this machine has one; the tree is made here). */
class SysfsTopologyTest {
    @TempDir
    Path root;

    private void node(int id, String cpus, long totalKb, long freeKb, String distances) throws IOException {
        Path dir = Files.createDirectories(root.resolve("node" + id));
        Files.writeString(dir.resolve("cpulist"), cpus + "\n");
        Files.writeString(dir.resolve("meminfo"), "Node " + id + " MemTotal:       " + totalKb + " kB\n"
                + "Node " + id + " MemFree:        " + freeKb + " kB\nNode " + id + " MemUsed:  1 kB\n");
        Files.writeString(dir.resolve("distance"), distances + "\n");
    }

    @Test
    void shouldReadNodesCpusMemoryAndDistances() throws IOException {
        node(0, "0-3,8", 1000, 400, "10 21 31");
        node(1, "4-7", 2000, 1500, "21 10 21");
        node(4, "", 3000, 3000, "31 21 10"); // memory-only node with a gap in the ids
        Files.writeString(root.resolve("online"), "0-1,4\n");
        SysfsTopology topology = SysfsTopology.read(root);
        assertEquals(NodeSet.parse("0-1,4"), topology.nodeSet());
        assertEquals(List.of(0, 1, 2, 3, 8), topology.node(0).cpus());
        assertEquals(List.of(), topology.node(4).cpus());
        assertEquals(2000L * 1024, topology.node(1).totalBytes());
        assertEquals(1500L * 1024, topology.node(1).freeBytes());
        assertEquals(31, topology.distance(0, 4), "distances are in node order, not by position in the id space");
        assertEquals(21, topology.distance(4, 1));
        assertEquals(10, topology.distance(4, 4));
    }

    @Test
    void shouldFailClearlyWithoutNodes() throws IOException {
        UncheckedIOException missing = assertThrows(UncheckedIOException.class, () -> SysfsTopology.read(root.resolve("absent")));
        assertTrue(missing.getMessage().contains("CONFIG_NUMA"), missing.getMessage());
        node(0, "0", 1, 1, "10");
        Files.writeString(root.resolve("node0/distance"), "ten\n");
        UncheckedIOException bad = assertThrows(UncheckedIOException.class, () -> SysfsTopology.read(root));
        assertTrue(bad.getMessage().contains("cannot parse NUMA node"), bad.getMessage());
    }
}
