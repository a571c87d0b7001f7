package org.memreg.monitor;

/**
 * A monitor's counters.
 *
 * @param events              events delivered to the cache, all kinds
 * @param unmapEvents         UNMAP events (userfaultfd)
 * @param removeEvents        REMOVE events (userfaultfd)
 * @param remapEvents         REMAP events (userfaultfd)
 * @param pageFaultsAnswered  faults on missing pages of watched ranges answered with a zero page
 * @param watchedBytes        bytes watched now
 * @param watchFailures       ranges that could not be watched
 * @param deliveryNanosTotal  sum over events (userfaultfd) or drains (hooks) of the time from
 *                            taking them to the cache having invalidated what they cover
 * @param deliveryNanosMax    the longest such time
 * @param hookEvents          ranges the hooks reported over watched memory before an unmap
 * @param hookOverflows       times the hooks' ring was full (every registration then treated as changed)
 * @param hookFailures        times the hooks were found not to work: lost while open, or
 *                            unavailable when {@code auto} fell back to userfaultfd alone
 * @param strictRefusals      hits strict mode's kernel check refused (an event pending, or
 *                            memory that is no longer the memory registered)
 * @param readerOverflows     ranges the userfaultfd reader could not pass on because its ring was
 *                            full (every registration then treated as changed)
 * @param readerFailures      times the userfaultfd reader or its delivery failed: every
 *                            registration was then treated as changed, and from then on that
 *                            monitor watches nothing (the cache keeps no registration past its release)
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
        long deliveryNanosMax,
        long hookEvents,
        long hookOverflows,
        long hookFailures,
        long strictRefusals,
        long readerOverflows,
        long readerFailures) {

    /** All zero. */
    public static final MonitorStats EMPTY = new MonitorStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** Two monitors' counters together (both watch the same ranges: the larger watched bytes; the longer delivery maximum). */
    public MonitorStats plus(MonitorStats other) {
        return new MonitorStats(events + other.events, unmapEvents + other.unmapEvents,
                removeEvents + other.removeEvents, remapEvents + other.remapEvents,
                pageFaultsAnswered + other.pageFaultsAnswered, Math.max(watchedBytes, other.watchedBytes),
                watchFailures + other.watchFailures, deliveryNanosTotal + other.deliveryNanosTotal,
                Math.max(deliveryNanosMax, other.deliveryNanosMax), hookEvents + other.hookEvents,
                hookOverflows + other.hookOverflows, hookFailures + other.hookFailures,
                strictRefusals + other.strictRefusals, readerOverflows + other.readerOverflows,
                readerFailures + other.readerFailures);
    }
}
