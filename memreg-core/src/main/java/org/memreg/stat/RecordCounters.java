package org.memreg.stat;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.RecordComponent;

/**
 * Writes the {@code long} components of a statistics record into a {@link CountersFile}: each into
 * the {@link CounterId} labelled with a prefix and the component's name (for example
 * {@code monitor.unmapEvents}). Built once per record type; the mapping is resolved up front, so a
 * component without a counter fails at construction, not while publishing.
 *
 * @param <R> the statistics record, whose components are all {@code long}
 */
public final class RecordCounters<R extends Record> {
    private final MethodHandle[] accessors;
    private final CounterId[] counters;

    /**
     * Maps the components of {@code type} to the counters labelled {@code prefix + name}.
     *
     * @throws IllegalArgumentException when a component has no counter of that label
     */
    public RecordCounters(Class<R> type, String prefix) {
        RecordComponent[] components = type.getRecordComponents();
        this.accessors = new MethodHandle[components.length];
        this.counters = new CounterId[components.length];
        for (int i = 0; i < components.length; i++) {
            try {
                accessors[i] = MethodHandles.publicLookup().unreflect(components[i].getAccessor());
            } catch (IllegalAccessException e) {
                throw new IllegalArgumentException("cannot read " + type.getName() + "." + components[i].getName(), e);
            }
            counters[i] = byLabel(prefix + components[i].getName());
        }
    }

    /** Stores each component of {@code stats} in its counter (a counter {@code file} lacks is skipped). */
    public void write(R stats, CountersFile file) {
        try {
            for (int i = 0; i < accessors.length; i++) {
                file.set(counters[i], (long) accessors[i].invoke(stats));
            }
        } catch (Throwable e) {
            throw new IllegalStateException("reading " + stats.getClass().getSimpleName(), e);
        }
    }

    private static CounterId byLabel(String label) {
        for (CounterId counter : CounterId.values()) {
            if (counter.label().equals(label)) {
                return counter;
            }
        }
        throw new IllegalArgumentException("no CounterId labelled " + label);
    }
}
