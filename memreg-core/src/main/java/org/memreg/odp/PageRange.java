package org.memreg.odp;

/**
 * A run of pages of an ODP region: pages {@code first} to {@code first + count - 1}, counted from
 * the region's start. Immutable; {@code count} is at least one.
 */
public record PageRange(int first, int count) {
    public PageRange {
        if (first < 0 || count <= 0 || first + count < 0) {
            throw new IllegalArgumentException("bad page range: first " + first + ", count " + count);
        }
    }

    /** One past the last page. */
    public int end() {
        return first + count;
    }

    /** True when page {@code page} lies in this range. */
    public boolean contains(int page) {
        return page >= first && page < first + count;
    }

    @Override
    public String toString() {
        return "[" + first + ".." + (first + count) + ")";
    }
}
