package org.memreg.stat;

import java.util.EnumSet;

/**
 * What a {@link CounterSet} counts for, with the stable code written into the
 * {@link CountersFile} (never renumbered) and the counters such a set holds.
 */
public enum SetKind {
    /** A registration cache: its own counters and its monitor's. */
    CACHE(1, "cache"),
    /** An ODP region (the owner's page table). */
    ODP_REGION(2, "odp-region"),
    /** An ODP mapping (a peer's page table). */
    ODP_MAPPING(3, "odp-mapping");

    private final int code;
    private final String label;

    SetKind(int code, String label) {
        this.code = code;
        this.label = label;
    }

    /** The code written to the file. */
    public int code() {
        return code;
    }

    /** How {@code memreg stat} names the kind. */
    public String label() {
        return label;
    }

    /** The counters a set of this kind holds, in display order; a new set each call. */
    public EnumSet<CounterId> counters() {
        return this == CACHE ? CounterId.cacheCounters() : CounterId.odpCounters();
    }

    /** The kind with this code, or {@code null} when this version does not know it. */
    public static SetKind byCode(int code) {
        for (SetKind kind : values()) {
            if (kind.code == code) {
                return kind;
            }
        }
        return null;
    }
}
