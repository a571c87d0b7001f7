package org.memreg.util;

/** The check every device makes of a {@code register} range. */
public final class RangeCheck {
    private RangeCheck() {
    }

    /** Throws unless the range is non-empty, page aligned and does not wrap. */
    public static void check(long address, long length, long pageSize) {
        if (length <= 0 || Long.remainderUnsigned(address, pageSize) != 0 || length % pageSize != 0
                || Long.compareUnsigned(address + length, address) < 0) {
            throw new IllegalArgumentException(String.format(
                    "range 0x%x + %d must be non-empty, page aligned and not wrap", address, length));
        }
    }
}
