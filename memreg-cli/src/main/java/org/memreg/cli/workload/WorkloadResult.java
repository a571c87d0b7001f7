package org.memreg.cli.workload;

/**
 * What one run of the {@link ReuseWorkload} measured.
 *
 * @param strategy          how buffers were registered
 * @param messageSize       bytes per message
 * @param operations        messages sent
 * @param elapsedNanos      wall time of the measured loop
 * @param hits              registrations served from the cache
 * @param misses            registrations that went to the device
 * @param registrations     device registrations
 * @param peakPinnedBytes   the most bytes the NIC had registered at once
 * @param reallocations     buffers freed and allocated anew at the same address
 * @param staleTransfers    transfers the simulated NIC caught going through a stale registration;
 *                          -1 where the device cannot tell (mlock)
 */
public record WorkloadResult(
        Strategy strategy,
        long messageSize,
        long operations,
        long elapsedNanos,
        long hits,
        long misses,
        long registrations,
        long peakPinnedBytes,
        long reallocations,
        long staleTransfers) {

    /** Messages per second. */
    public double operationsPerSecond() {
        return elapsedNanos == 0 ? 0 : operations * 1e9 / elapsedNanos;
    }

    /** Hits over all registrations asked for. */
    public double hitRate() {
        long total = hits + misses;
        return total == 0 ? 0 : (double) hits / total;
    }
}
