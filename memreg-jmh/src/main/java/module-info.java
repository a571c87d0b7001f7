/** memreg's JMH benchmarks and soaks; run from the shaded jar (class path), compiled as a module. */
@SuppressWarnings("requires-automatic") // JMH, HdrHistogram, Aeron, Agrona and XChart ship without a module descriptor
module org.memreg.jmh {
    requires org.memreg.core;
    requires jmh.core;
    requires HdrHistogram;
    // The benchmark peers of bin/bench-jvm-peers (org.memreg.jmh.peers); never memreg-core's.
    requires io.aeron.client;
    requires io.aeron.driver;
    requires org.agrona;
    requires io.netty.buffer;
    requires io.netty.common;
    requires io.netty.transport;
    requires io.netty.transport.classes.epoll;
    requires org.knowm.xchart;
    requires java.desktop; // XChart's images
    requires jdk.management; // TransportBench: bytes a thread allocated
}
