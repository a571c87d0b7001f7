package org.memreg.jfr;

/** Why the cache deregistered a registration; the label is what JFR shows. */
public enum DeregistrationCause {
    /** Unused, evicted because the device was exhausted. */
    EVICTED_DEVICE_LIMIT("evicted-device-limit"),
    /** Unused, evicted to stay within {@code maxBytes}. */
    EVICTED_MAX_BYTES("evicted-max-bytes"),
    /** Unused, evicted to stay within {@code maxEntries}. */
    EVICTED_MAX_ENTRIES("evicted-max-entries"),
    /** Unused, given back by {@code trim}. */
    TRIMMED("trimmed"),
    /** Taken out of the index by a merge or an access upgrade. */
    REPLACED("replaced"),
    /** Its memory changed (unmapped, remapped, freed). */
    INVALIDATED("invalidated"),
    /** Left the index while held: deregistered when its last holder released it. */
    DEFERRED("deferred"),
    /** Released by its last holder in a cache that keeps nothing unused ({@code keepUnused(false)}). */
    RELEASED("released"),
    /** The cache closed. */
    CLOSED("closed");

    private final String label;

    DeregistrationCause(String label) {
        this.label = label;
    }

    /** The label recorded in events, e.g. {@code evicted-max-bytes}. */
    public String label() {
        return label;
    }

    /** Whether this is one of the three eviction causes. */
    public boolean isEviction() {
        return this == EVICTED_DEVICE_LIMIT || this == EVICTED_MAX_BYTES || this == EVICTED_MAX_ENTRIES;
    }
}
