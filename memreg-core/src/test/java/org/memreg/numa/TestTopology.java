package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * The two topologies the NUMA contract tests run on, so that the simulation is checked against
 * the kernel with the same assertions: {@link #SIMULATED} ({@value #NODES} simulated nodes over
 * this machine) and {@link #REAL} (this machine's nodes, read from sysfs).
 *
 * <p>{@link #REAL} needs {@value #NODES} real nodes with a CPU each. This machine has one, so on it
 * the real runs are skipped, saying why; bin/test runs them in the {@value #NODES}-node VM of
 * bin/vm-test with {@code -D}{@value #REQUIRED_PROP}{@code =4}, where missing nodes fail instead.
 */
enum TestTopology {
    SIMULATED,
    REAL;

    /** The nodes every contract test may use: 0..NODES-1. */
    static final int NODES = 4;
    /** Set to {@value #NODES} where the real nodes must be there (in the VM): a skip would hide a fault. */
    static final String REQUIRED_PROP = "memreg.test.realNumaNodes";

    /** A new topology of this kind (a simulated one keeps its own page map); skips or fails as above. */
    Topology create() {
        if (this == SIMULATED) {
            return SimulatedTopology.of(NODES);
        }
        SysfsTopology real = SysfsTopology.read();
        long usable = real.nodes().stream().filter(n -> n.id() < NODES && !n.cpus().isEmpty()).count();
        if (usable < NODES) {
            String why = "needs real NUMA nodes 0-" + (NODES - 1) + " with a CPU each; this machine has "
                    + "nodes " + real.nodeSet() + " (bin/test runs these in a " + NODES + "-node VM, bin/vm-test)";
            if (Integer.getInteger(REQUIRED_PROP, 0) >= NODES) {
                fail(why + ", yet " + REQUIRED_PROP + " says they must be here");
            }
            abort(why);
        }
        return real;
    }
}
