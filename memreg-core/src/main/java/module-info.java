/**
 * memreg: registered memory for zero-copy messaging. The exported packages are the API; the
 * system-call bindings ({@code linux}), the UCX binding ({@code ucx}) and the helpers
 * ({@code config}, {@code util}, {@code jfr}) are internal. memreg's own tools reach the bindings
 * they probe through qualified exports: the command line ({@code memreg info} reports what the
 * kernel and UCX allow) and the benchmarks (the bare-UCX latency floor, raw page moves).
 */
module org.memreg.core {
    requires jdk.jfr;
    requires jdk.management; // the machine's memory (PinBound)

    exports org.memreg.cache;
    exports org.memreg.device;
    exports org.memreg.memory;
    exports org.memreg.monitor;
    exports org.memreg.numa;
    exports org.memreg.odp;
    exports org.memreg.stat;
    exports org.memreg.transport;

    exports org.memreg.config to org.memreg.cli;
    exports org.memreg.linux to org.memreg.cli, org.memreg.jmh;
    exports org.memreg.ucx to org.memreg.cli, org.memreg.jmh;
}
