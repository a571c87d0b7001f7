package org.memreg.util;

import java.util.List;
import java.util.function.Function;

/** The budget check of devices that count held pages: only pages not yet held cost budget. */
public final class Budget {
    private Budget() {
    }

    /**
     * The parts of {@code [start, end)} not yet counted in {@code held}.
     *
     * @throws RuntimeException made by {@code exhausted} when holding them too would exceed
     *     {@code budget}; the message says "{@code <what>} exceeded: N bytes {@code <heldWord>}, M more requested,
     *     budget B bytes"
     */
    public static List<long[]> newRanges(PageCounts held, long start, long end, long budget, String what,
            String heldWord, Function<String, ? extends RuntimeException> exhausted) {
        return newRanges(held, start, end, budget, what, heldWord, null, exhausted);
    }

    /** {@link #newRanges(PageCounts, long, long, long, String, String, Function)}, the message ending in "({@code why})". */
    public static List<long[]> newRanges(PageCounts held, long start, long end, long budget, String what,
            String heldWord, String why, Function<String, ? extends RuntimeException> exhausted) {
        List<long[]> gaps = held.gaps(start, end);
        long newBytes = gaps.stream().mapToLong(g -> g[1] - g[0]).sum();
        if (newBytes > budget - held.coveredBytes()) {
            throw exhausted.apply(String.format("%s exceeded: %d bytes %s, %d more requested, budget %d bytes%s",
                    what, held.coveredBytes(), heldWord, newBytes, budget, why == null ? "" : " (" + why + ")"));
        }
        return gaps;
    }
}
