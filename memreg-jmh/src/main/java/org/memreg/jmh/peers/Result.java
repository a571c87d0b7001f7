package org.memreg.jmh.peers;

import org.HdrHistogram.Histogram;

/** What one client run measured: latency percentiles or throughput, and whether every checksum matched. */
final class Result {
    double p50Micros = Double.NaN, p99Micros = Double.NaN, meanMicros = Double.NaN, mibPerSecond = Double.NaN;
    private long checks, mismatches;

    void check(boolean matched) {
        checks++;
        if (!matched) {
            mismatches++;
        }
    }

    /** True when at least one checksum was compared and none differed. */
    boolean checksumsMatched() {
        return checks > 0 && mismatches == 0;
    }

    void latency(Histogram halfTrips) {
        p50Micros = halfTrips.getValueAtPercentile(50) / 1e3;
        p99Micros = halfTrips.getValueAtPercentile(99) / 1e3;
        meanMicros = halfTrips.getMean() / 1e3;
    }

    void throughput(long bytes, long nanos) {
        mibPerSecond = bytes / (nanos / 1e9) / (1 << 20);
    }

    /** The CSV row: system,test,size,iters,warmup,p50_us,p99_us,mean_us,mib_s,checksums,copies. */
    String csv(String system, String test, int size, int iters, int warmup, String copies) {
        return String.join(",", system, test, Integer.toString(size), Integer.toString(iters), Integer.toString(warmup),
                fmt(p50Micros), fmt(p99Micros), fmt(meanMicros), fmt(mibPerSecond),
                checksumsMatched() ? "matched" : "MISMATCH(" + mismatches + "/" + checks + ")", copies.replace(',', ';'));
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "" : String.format(java.util.Locale.ROOT, "%.3f", v);
    }
}
