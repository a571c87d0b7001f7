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
 * @param staleTransfers    transfers through a registration made before their buffer was freed and
 *                          reallocated, as the sender knows (any device, any user)
 * @param nicStaleTransfers transfers the simulated NIC caught by physical frame going through a stale
 *                          registration; -1 where it cannot tell (mlock, or frames hidden: not root)
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
        long staleTransfers,
        long nicStaleTransfers) {

    /** Messages per second. */
    public double operationsPerSecond() {
        return elapsedNanos == 0 ? 0 : operations * 1e9 / elapsedNanos;
    }

    /** Stale transfers per message sent, 0 when none was sent. */
    public double staleFraction() {
        return operations == 0 ? 0 : (double) staleTransfers / operations;
    }

    /** Hits over all registrations asked for. */
    public double hitRate() {
        long total = hits + misses;
        return total == 0 ? 0 : (double) hits / total;
    }
}
