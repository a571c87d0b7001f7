package org.memreg.cli.workload;

/** How a sender gets its buffers registered: the three strategies of the demo (seeds 000, 002). */
public enum Strategy {
    /** Register before and deregister after every message: always correct, always slow. */
    REGISTER_EVERY_TIME("register every time"),
    /** A registration cache that hears nothing of memory changes: fast, and wrong after a free. */
    NAIVE_CACHE("naive cache"),
    /** memreg: the cache with the userfaultfd monitor. */
    MEMREG("memreg (cache + userfaultfd)");

    private final String label;

    Strategy(String label) {
        this.label = label;
    }

    /** A human name for tables and plots. */
    public String label() {
        return label;
    }
}
