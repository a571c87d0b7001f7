package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.linux.MemoryPolicy;
import org.memreg.memory.HugePages;
import org.memreg.memory.RegisteredArena;
import org.memreg.monitor.MemoryMonitor;

/**
 * memreg-allocated memory bound to a node before it is registered (so before it is faulted in): the
 * machine's last node (node 0 here, node 3 in the VM of bin/vm-test).
 */
class ArenaPlacementTest {
    @Test
    void shouldBindRegisteredArenaMemoryBeforeRegisteringIt() {
        Topology topology = SysfsTopology.read();
        NodeSet last = NodeSet.of(topology.nodes().getLast().id());
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE).statsName(null).build();
             RegisteredArena arena = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER)
                     .placement((address, length) -> topology.placement().bind(address, length, last, false))) {
            MemorySegment window = arena.allocate(1 << 20);
            MemoryPolicy.Policy policy = MemoryPolicy.policyAt(window.address());
            assertEquals(MemoryPolicy.MPOL_BIND, policy.mode(), "bound before registration: " + policy);
            assertTrue(policy.nodes().get(last.nth(0)) && policy.nodes().cardinality() == 1, policy.toString());
            PageNodes pages = topology.placement().query(window.address(), window.byteSize());
            assertEquals(256, pages.summary().onNode(last.nth(0)), "every page faulted in by registration sits on the node");
            assertTrue(arena.registration(window).isValid());
        }
    }
}
