package org.memreg.stat;

/**
 * What a {@link StatsPublisher} publishes: a cache, an ODP region or an ODP mapping, writing a
 * fresh snapshot of its statistics with {@link CountersFile#set} or {@link CountersFile#publish}.
 * Called from the publisher's thread (and from whoever calls {@link StatsPublisher#publishNow()}),
 * never concurrently with itself. It should be quick and must not block.
 */
@FunctionalInterface
public interface CounterSource {
    /** Writes the current values into {@code file}. */
    void writeTo(CountersFile file);
}
