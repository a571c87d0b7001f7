package org.memreg.stat;

/** Statistics records for {@link RecordCounters} tests; public, as RecordCounters reads public records. */
public final class TestRecords {
    private TestRecords() {
    }

    /** Components with counters: {@code hits} and {@code misses}. */
    public record TwoCounters(long hits, long misses) {}

    /** A component without a counter. */
    public record Unknown(long hits, long notACounter) {}
}
