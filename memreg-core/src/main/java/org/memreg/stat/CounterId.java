package org.memreg.stat;

import java.util.EnumSet;

/**
 * The counters memreg keeps in a {@link CountersFile}, each with a stable numeric id and a
 * label. Ids are part of the file format: an id is never reused or renumbered, new counters are
 * appended with the next free id, and a reader meeting an id it does not know shows it by the
 * label stored in the file. Labels are the names of the matching components of
 * {@code org.memreg.cache.CacheStats}, of {@code org.memreg.monitor.MonitorStats} prefixed with
 * {@code monitor.}, and of {@code org.memreg.odp.OdpStats} prefixed with {@code odp.}; a test
 * fails when any of these records has a component with no counter.
 *
 * <p>A {@link CounterSet} holds one component's counters: a cache's set {@link #cacheCounters()}
 * (its own and its monitor's), an ODP region's or mapping's set {@link #odpCounters()}.
 *
 * <p>The id, not the ordinal, is what goes into the file. The declaration order is the order of
 * a set's values in its record ({@link CountersFile}, eight to a cache line): counters written
 * together on a hot path are declared together, so that a reader looping over the set costs
 * that path as few line transfers as can be.
 */
public enum CounterId {
    // org.memreg.cache.CacheStats: labels are its component names.
    // The first eight share a cache line in a set's record: what a miss that evicts writes.
    HITS(1, "hits"),
    MISSES(2, "misses"),
    REGISTRATIONS(3, "registrations"),
    DEREGISTRATIONS(4, "deregistrations"),
    REGISTERED_BYTES(17, "registeredBytes"),
    PINNED_BYTES(39, "pinnedBytes"),
    DEVICE_NANOS(19, "deviceNanos"),
    EVICTIONS_MAX_ENTRIES(7, "evictionsMaxEntries"),
    EVICTIONS_MAX_BYTES(6, "evictionsMaxBytes"),
    EVICTIONS_DEVICE_LIMIT(5, "evictionsDeviceLimit"),
    TRIMMED(8, "trimmed"),
    REPLACED(9, "replaced"),
    INVALIDATIONS(10, "invalidations"),
    EVENT_INVALIDATIONS(11, "eventInvalidations"),
    QUEUED_INVALIDATIONS(12, "queuedInvalidations"),
    MAX_QUEUED_INVALIDATIONS(13, "maxQueuedInvalidations"),
    DEFERRED_DEREGISTRATIONS(14, "deferredDeregistrations"),
    ENTRIES(15, "entries"),
    RETIRED_ENTRIES(16, "retiredEntries"),
    IN_USE_BYTES(18, "inUseBytes"),
    // org.memreg.monitor.MonitorStats: labels are "monitor." and its component names.
    MONITOR_EVENTS(20, "monitor.events"),
    MONITOR_UNMAP_EVENTS(21, "monitor.unmapEvents"),
    MONITOR_REMOVE_EVENTS(22, "monitor.removeEvents"),
    MONITOR_REMAP_EVENTS(23, "monitor.remapEvents"),
    MONITOR_PAGE_FAULTS_ANSWERED(24, "monitor.pageFaultsAnswered"),
    MONITOR_WATCHED_BYTES(25, "monitor.watchedBytes"),
    MONITOR_WATCH_FAILURES(26, "monitor.watchFailures"),
    MONITOR_DELIVERY_NANOS_TOTAL(27, "monitor.deliveryNanosTotal"),
    MONITOR_DELIVERY_NANOS_MAX(28, "monitor.deliveryNanosMax"),
    MONITOR_HOOK_EVENTS(35, "monitor.hookEvents"),
    MONITOR_HOOK_OVERFLOWS(36, "monitor.hookOverflows"),
    MONITOR_HOOK_FAILURES(37, "monitor.hookFailures"),
    MONITOR_STRICT_REFUSALS(38, "monitor.strictRefusals"),
    MONITOR_READER_OVERFLOWS(40, "monitor.readerOverflows"),
    MONITOR_READER_FAILURES(41, "monitor.readerFailures"),
    // org.memreg.odp.OdpStats: labels are "odp." and its component names.
    ODP_INVALIDATIONS_SENT(29, "odp.invalidationsSent"),
    ODP_INVALIDATIONS_ACKED(30, "odp.invalidationsAcked"),
    ODP_FAULTS(31, "odp.faults"),
    ODP_PAGES_RECLAIMED(32, "odp.pagesReclaimed"),
    ODP_PAGES_REESTABLISHED(33, "odp.pagesReestablished"),
    ODP_LEASE_EXPIRIES(34, "odp.leaseExpiries"),
    ODP_PEERS_GONE(42, "odp.peersGone");
    // Next free id: 43. Append new counters with the next id, anywhere in the enum (enum order is
    // display order); never renumber or reuse an id.

    private static final String ODP_PREFIX = "odp.";
    private static final CounterId[] VALUES = values();
    private static final CounterId[] BY_ID = new CounterId[maxId() + 1];

    static {
        for (CounterId counter : VALUES) {
            if (BY_ID[counter.id] != null) {
                throw new ExceptionInInitializerError("counter id " + counter.id + " used twice");
            }
            BY_ID[counter.id] = counter;
        }
    }

    private final int id;
    private final String label;

    CounterId(int id, String label) {
        this.id = id;
        this.label = label;
    }

    /** The stable id written to the file. */
    public int id() {
        return id;
    }

    /** The label written to the file: the statistics component's name, e.g. {@code evictionsMaxBytes}. */
    public String label() {
        return label;
    }

    /** The counter with this id, or {@code null} when this version does not know it. */
    public static CounterId byId(int id) {
        return id > 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** The counters of an ODP region's or mapping's file: those labelled {@code odp.}; a new set each call. */
    public static EnumSet<CounterId> odpCounters() {
        EnumSet<CounterId> odp = EnumSet.noneOf(CounterId.class);
        for (CounterId counter : VALUES) {
            if (counter.label.startsWith(ODP_PREFIX)) {
                odp.add(counter);
            }
        }
        return odp;
    }

    /** The counters of a cache's file: its own and its monitor's (all not labelled {@code odp.}); a new set each call. */
    public static EnumSet<CounterId> cacheCounters() {
        return EnumSet.complementOf(odpCounters());
    }

    /** How many counters this version knows. */
    public static int count() {
        return VALUES.length;
    }

    private static int maxId() {
        int max = 0;
        for (CounterId counter : values()) {
            max = Math.max(max, counter.id);
        }
        return max;
    }
}
