/** memreg's JMH benchmarks and soaks; run from the shaded jar (class path), compiled as a module. */
@SuppressWarnings("requires-automatic") // JMH and HdrHistogram ship without a module descriptor
module org.memreg.jmh {
    requires org.memreg.core;
    requires jmh.core;
    requires HdrHistogram;
}
