package org.memreg.device;

import java.util.List;
import org.memreg.util.PageCounts;

/** The budget check of devices that count held pages: only pages not yet held cost budget. */
final class Budget {
    private Budget() {
    }

    /**
     * The parts of {@code [start, end)} not yet counted in {@code held}.
     *
     * @throws ResourceExhaustedException when holding them too would exceed {@code budget};
     *     the message says "{@code <what>} exceeded: N bytes {@code <heldWord>}, M more requested,
     *     budget B bytes"
     */
    static List<long[]> newRanges(PageCounts held, long start, long end, long budget, String what, String heldWord) {
        return newRanges(held, start, end, budget, what, heldWord, null);
    }

    /** {@link #newRanges(PageCounts, long, long, long, String, String)}, the message ending in "({@code why})". */
    static List<long[]> newRanges(PageCounts held, long start, long end, long budget, String what, String heldWord,
                                  String why) {
        List<long[]> gaps = held.gaps(start, end);
        long newBytes = gaps.stream().mapToLong(g -> g[1] - g[0]).sum();
        if (newBytes > budget - held.coveredBytes()) {
            throw new ResourceExhaustedException(String.format("%s exceeded: %d bytes %s, %d more requested, budget %d bytes%s",
                    what, held.coveredBytes(), heldWord, newBytes, budget, why == null ? "" : " (" + why + ")"));
        }
        return gaps;
    }
}
