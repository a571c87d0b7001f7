package org.memreg.monitor;

/**
 * A monitor's counters.
 *
 * @param events              events delivered to the cache, all kinds
 * @param unmapEvents         UNMAP events
 * @param removeEvents        REMOVE events
 * @param remapEvents         REMAP events
 * @param pageFaultsAnswered  faults on missing pages of watched ranges answered with a zero page
 * @param watchedBytes        bytes watched now
 * @param watchFailures       ranges that could not be watched
 * @param deliveryNanosTotal  sum over events of the time from taking the event to the cache
 *                            having invalidated what it covers
 * @param deliveryNanosMax    the longest such time
 */
public record MonitorStats(
        long events,
        long unmapEvents,
        long removeEvents,
        long remapEvents,
        long pageFaultsAnswered,
        long watchedBytes,
        long watchFailures,
        long deliveryNanosTotal,
        long deliveryNanosMax) {

    /** All zero. */
    public static final MonitorStats EMPTY = new MonitorStats(0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** Mean time from event to invalidation, 0 without events. */
    public double meanDeliveryNanos() {
        return events == 0 ? 0 : (double) deliveryNanosTotal / events;
    }
}
