package org.memreg.cache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Entries by exact start address: an open-addressing hash table (linear probing) that readers
 * search without a lock or an allocation, so the common hit (the same buffer again) costs a hash
 * and a probe or two instead of a skip-list descent.
 *
 * <p>Writes happen under the cache's miss lock. Removal leaves a tombstone; the table is rebuilt
 * into a fresh array (published with a volatile write) when it is half full of entries and
 * tombstones. A reader on an old array may see an entry that has since left the index; such an
 * entry was flagged before it left, so it refuses new holders.
 */
final class StartTable {
    private static final VarHandle OBJECTS = MethodHandles.arrayElementVarHandle(Object[].class);
    private static final Object REMOVED = new Object(); // tombstone: keeps probe chains intact

    private volatile Object[] slots = new Object[64];
    private int used; // entries + tombstones, under the miss lock

    private static int slotOf(long start, int mask) {
        long h = (start >>> 12) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }

    /** The entry starting at {@code start}, or null. */
    Entry get(long start) {
        Object[] table = slots;
        int mask = table.length - 1;
        for (int i = slotOf(start, mask), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
            Object slot = (Object) OBJECTS.getAcquire(table, i);
            if (slot == null) {
                return null;
            }
            if (slot != REMOVED && ((Entry) slot).start == start) {
                return (Entry) slot;
            }
        }
        return null;
    }

    void put(Entry entry) {
        if ((used + 1) * 2 > slots.length) {
            rebuild();
        }
        Object[] table = slots;
        int mask = table.length - 1;
        int i = slotOf(entry.start, mask);
        while (table[i] != null && table[i] != REMOVED) {
            i = (i + 1) & mask;
        }
        if (table[i] == null) {
            used++;
        }
        OBJECTS.setRelease(table, i, entry);
    }

    void remove(Entry entry) {
        Object[] table = slots;
        int mask = table.length - 1;
        for (int i = slotOf(entry.start, mask), probes = 0; probes <= mask && table[i] != null;
                i = (i + 1) & mask, probes++) {
            if (table[i] == entry) {
                OBJECTS.setRelease(table, i, REMOVED);
                return;
            }
        }
    }

    void clear() {
        slots = new Object[64];
        used = 0;
    }

    private void rebuild() {
        Object[] old = slots;
        int live = 0;
        for (Object slot : old) {
            if (slot != null && slot != REMOVED) {
                live++;
            }
        }
        int capacity = 64;
        while (capacity < live * 4) {
            capacity <<= 1;
        }
        Object[] table = new Object[capacity];
        int mask = capacity - 1;
        for (Object slot : old) {
            if (slot != null && slot != REMOVED) {
                int i = slotOf(((Entry) slot).start, mask);
                while (table[i] != null) {
                    i = (i + 1) & mask;
                }
                table[i] = slot;
            }
        }
        used = live;
        slots = table; // volatile write publishes the filled array
    }
}
