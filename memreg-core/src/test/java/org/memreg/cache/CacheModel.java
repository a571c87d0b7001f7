package org.memreg.cache;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.memreg.device.Access;

/**
 * A deliberately plain reference model of the registration cache's rules (lists, linear scans,
 * no concurrency), to compare the real cache against answer by answer. It also models the
 * device's capacity, as {@link InMemoryTestDevice} has it.
 */
final class CacheModel {
    private static final long PAGE = 4096;

    static final class Reg {
        final long start;
        final long end;
        final Access access;
        final long id;
        long lastUse;
        int holders = 1;
        boolean inIndex = true;
        boolean invalid;
        boolean dead;

        Reg(long start, long end, Access access, long id, long lastUse) {
            this.start = start;
            this.end = end;
            this.access = access;
            this.id = id;
            this.lastUse = lastUse;
        }

        long length() {
            return end - start;
        }

        boolean overlaps(long from, long to) {
            return start < to && from < end;
        }
    }

    /** What the model says an acquire does. */
    record Outcome(boolean hit, Reg reg, String failure) {}

    final List<Reg> regs = new ArrayList<>(); // every registration still registered
    final long maxBytes;
    final long maxEntries;
    final boolean merge;
    final long deviceBytes;
    final long deviceRegions;
    long clock;
    long nextId;
    long hits, misses, registrations, deregistrations, evictionsDevice, evictionsBytes, evictionsEntries;
    long trimmed, replaced, invalidations, deferred, registeredBytes;

    CacheModel(long maxBytes, long maxEntries, boolean merge, long deviceBytes, long deviceRegions) {
        this.maxBytes = maxBytes;
        this.maxEntries = maxEntries;
        this.merge = merge;
        this.deviceBytes = deviceBytes;
        this.deviceRegions = deviceRegions;
    }

    /** Bytes of the distinct pages under every registration still registered (overlaps once). */
    long pinnedBytes() {
        List<Reg> sorted = new ArrayList<>(regs);
        sorted.sort(java.util.Comparator.comparingLong(r -> r.start));
        long bytes = 0;
        long covered = Long.MIN_VALUE;
        for (Reg reg : sorted) {
            long from = Math.max(reg.start, covered);
            if (reg.end > from) {
                bytes += reg.end - from;
                covered = reg.end;
            }
        }
        return bytes;
    }

    Outcome acquire(long start, long end, Access access) {
        Reg floor = null; // the indexed registration with the greatest start at or below start: only it can cover
        for (Reg reg : indexed()) {
            if (reg.start <= start && (floor == null || reg.start > floor.start)) {
                floor = reg;
            }
        }
        if (floor != null && end <= floor.end && floor.access.includes(access)) {
            floor.holders++;
            hits++;
            return new Outcome(true, floor, null);
        }
        misses++;
        List<Reg> overlapping = indexed().stream().filter(r -> r.overlaps(start, end))
                .filter(r -> merge || !sharesEdgePage(r, start, end)).toList();
        long regStart = start;
        long regEnd = end;
        Access regAccess = access;
        if (merge) {
            for (Reg reg : overlapping) {
                regStart = Math.min(regStart, reg.start);
                regEnd = Math.max(regEnd, reg.end);
                regAccess = regAccess.with(reg.access);
            }
        }
        long length = regEnd - regStart;
        while (true) {
            long goingBytes = 0;
            long goingEntries = 0;
            for (Reg reg : overlapping) {
                if (!reg.dead && reg.holders == 0) {
                    goingBytes += reg.length();
                    goingEntries++;
                }
            }
            boolean overBytes = registeredBytes - goingBytes + length > maxBytes;
            boolean overEntries = regs.size() - goingEntries + 1 > maxEntries;
            if (!overBytes && !overEntries) {
                break;
            }
            Reg victim = leastRecentlyUsedUnused();
            if (victim == null) {
                return new Outcome(false, null, overBytes ? "maxBytes" : "maxEntries");
            }
            deregister(victim);
            if (overBytes) {
                evictionsBytes++;
            } else {
                evictionsEntries++;
            }
        }
        while (registeredBytes + length > deviceBytes || regs.size() + 1 > deviceRegions) {
            Reg victim = leastRecentlyUsedUnused();
            if (victim == null) {
                return new Outcome(false, null, "device");
            }
            deregister(victim);
            evictionsDevice++;
        }
        Reg created = new Reg(regStart, regEnd, regAccess, nextId++, clock++);
        registrations++;
        registeredBytes += length;
        for (Reg reg : overlapping) {
            if (!reg.dead) {
                retire(reg);
                replaced++;
            }
        }
        regs.add(created);
        return new Outcome(false, created, null);
    }

    /** Without merging, a registration sharing only an edge page of the new range, and reaching beyond it, stays. */
    private static boolean sharesEdgePage(Reg reg, long start, long end) {
        return reg.start < start && reg.end == start + PAGE && reg.end < end
                || reg.end > end && reg.start == end - PAGE && reg.start > start;
    }

    void release(Reg reg) {
        reg.lastUse = clock++;
        reg.holders--;
        if (reg.holders == 0 && !reg.inIndex && !reg.dead) {
            deregister(reg);
            deferred++;
        }
    }

    void invalidate(long start, long end) {
        for (Reg reg : indexed()) {
            if (reg.overlaps(start, end)) {
                reg.invalid = true;
                retire(reg);
                invalidations++;
            }
        }
        for (Reg reg : List.copyOf(regs)) {
            if (!reg.inIndex && !reg.invalid && reg.overlaps(start, end)) {
                reg.invalid = true;
                invalidations++;
            }
        }
    }

    long trim(long bytes) {
        long freed = 0;
        while (freed < bytes) {
            Reg victim = leastRecentlyUsedUnused();
            if (victim == null) {
                break;
            }
            deregister(victim);
            trimmed++;
            freed += victim.length();
        }
        return freed;
    }

    private void retire(Reg reg) {
        reg.inIndex = false;
        if (reg.holders == 0) {
            deregister(reg);
        }
    }

    private void deregister(Reg reg) {
        reg.dead = true;
        reg.inIndex = false;
        regs.remove(reg);
        deregistrations++;
        registeredBytes -= reg.length();
    }

    private Reg leastRecentlyUsedUnused() {
        return indexed().stream().filter(r -> r.holders == 0)
                .min(Comparator.<Reg>comparingLong(r -> r.lastUse).thenComparingLong(r -> r.id)).orElse(null);
    }

    List<Reg> indexed() {
        return regs.stream().filter(r -> r.inIndex).toList();
    }

    long entries() {
        return indexed().size();
    }

    long retiredEntries() {
        return regs.size() - entries();
    }

    long inUseBytes() {
        return regs.stream().filter(r -> r.holders > 0).mapToLong(Reg::length).sum();
    }
}
