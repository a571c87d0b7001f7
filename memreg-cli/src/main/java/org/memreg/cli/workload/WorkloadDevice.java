package org.memreg.cli.workload;

/** What the {@link ReuseWorkload}'s sender registers with. */
public enum WorkloadDevice {
    /**
     * The simulated NIC with its default cost model: the NIC reads the buffer (DMA) and catches
     * transfers through stale registrations.
     */
    SIMULATED_NIC("simnic"),
    /** Real pinning with mlock; a "transfer" is a CPU copy, and stale registrations go unseen. */
    MLOCK("mlock");

    private final String label;

    WorkloadDevice(String label) {
        this.label = label;
    }

    /** A short name for tables and files. */
    public String label() {
        return label;
    }
}
