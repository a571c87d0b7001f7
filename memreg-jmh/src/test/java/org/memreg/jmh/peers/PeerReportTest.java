package org.memreg.jmh.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The report's medians, and its ratios taken round by round. */
class PeerReportTest {
    @Test
    void medianShouldTakeTheMiddleOrTheMeanOfTheMiddleTwo() {
        assertEquals(2.0, PeerReport.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, PeerReport.median(List.of(4.0, 1.0, 3.0, 2.0)));
        assertEquals(7.0, PeerReport.median(List.of(7.0)));
    }

    /** Round r against round r: the median of 2, 4 and 3 is 3, where the medians' ratio would be 4 / 1. */
    @Test
    void ratiosShouldPairTheRoundsThatRanTogether() {
        assertEquals(" (put/peer 3.00, 2.00-4.00)",
                PeerReport.ratio("put", List.of(2.0, 4.0, 6.0), List.of(1.0, 1.0, 2.0)));
        assertEquals(" (memreg/peer 0.500)", PeerReport.ratio("memreg", List.of(1.0), List.of(2.0)));
        assertEquals("", PeerReport.ratio("memreg", null, List.of(2.0)));
    }
}
