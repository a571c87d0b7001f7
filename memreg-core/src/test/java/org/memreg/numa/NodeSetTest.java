package org.memreg.numa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Iterator;
import org.junit.jupiter.api.Test;

class NodeSetTest {
    @Test
    void shouldParseNodeListsWithRangesSinglesAndBlanks() {
        assertEquals(0b1111L, NodeSet.parse("0-3").mask());
        assertEquals(0b1110_0101L, NodeSet.parse("0,2,5-7").mask());
        assertEquals(0b10L, NodeSet.parse("1").mask());
        assertEquals(0b1011L, NodeSet.parse(" 3, 0-1 ,1\n").mask());
        assertEquals(0b110L, NodeSet.parse("1 - 2").mask());
        assertEquals(1L << 63, NodeSet.parse("63").mask());
        assertEquals(-1L, NodeSet.parse("0-63").mask());
        assertEquals(0b11L << 62, NodeSet.parse("62-63").mask());
        assertEquals(0b111L << 60, NodeSet.parse("60-62").mask());
        assertEquals(1L << 7, NodeSet.parse("007").mask());
        assertTrue(NodeSet.parse("").isEmpty());
        assertTrue(NodeSet.parse(" \n").isEmpty());
    }

    @Test
    void shouldRejectBadNodeListsNamingTheBadElement() {
        assertBad("-1", "negative node in \"-1\"");
        assertBad("0,-3", "negative node in \"-3\"");
        assertBad("1--2", "negative node in \"1--2\"");
        assertBad("3-1", "reversed range in \"3-1\"");
        assertBad("64", "node above 63 in \"64\"");
        assertBad("0-64", "node above 63 in \"0-64\"");
        assertBad("99999999999", "node above 63 in \"99999999999\"");
        assertBad("a", "not a node number or range in \"a\"");
        assertBad("1-", "not a node number or range in \"1-\"");
        assertBad("+1", "not a node number or range in \"+1\"");
        assertBad("0-7:2", "not a node number or range in \"0-7:2\"");
        assertBad("1,,2", "empty element");
        assertBad("1,", "empty element");
        assertBad("0x3", "not a node number or range");
    }

    private static void assertBad(String list, String why) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeSet.parse(list));
        assertTrue(e.getMessage().startsWith("bad node list \"" + list + "\": "), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void shouldFormatLikeTheKernelAndParseItsOwnOutputBack() {
        assertEquals("", NodeSet.empty().toString());
        assertEquals("0-3", NodeSet.of(3, 1, 2, 0).toString());
        assertEquals("0,2,5-7", NodeSet.of(0, 2, 5, 6, 7).toString());
        assertEquals("0-1,3", NodeSet.of(0, 1, 3).toString());
        assertEquals("0-63", NodeSet.ofMask(-1L).toString());
        assertEquals("63", NodeSet.of(63).toString());
        assertEquals("0,62-63", NodeSet.of(0, 62, 63).toString());
        for (long mask = 0; mask < 1 << 10; mask++) {
            for (long high : new long[] {0, 1L << 63, 3L << 62, 0x5L << 40}) {
                NodeSet set = NodeSet.ofMask(mask | high);
                assertEquals(set, NodeSet.parse(set.toString()), set.toString());
                assertEquals(expectedList(mask | high), set.toString());
            }
        }
    }

    /** The node list written from a plain scan, independently of NodeSet.toString's bit tricks. */
    private static String expectedList(long mask) {
        List<String> parts = new ArrayList<>();
        int n = 0;
        while (n < 64) {
            if ((mask >>> n & 1) == 0) {
                n++;
                continue;
            }
            int first = n;
            while (n < 64 && (mask >>> n & 1) == 1) {
                n++;
            }
            parts.add(n - 1 == first ? "" + first : first + "-" + (n - 1));
        }
        return String.join(",", parts);
    }

    @Test
    void shouldAnswerSizeMembershipPositionsAndIterateInOrder() {
        NodeSet set = NodeSet.parse("1,4-5,63");
        assertEquals(4, set.size());
        assertTrue(set.contains(4));
        assertTrue(set.contains(63));
        assertFalse(set.contains(0));
        assertFalse(set.contains(-1));
        assertFalse(set.contains(64));
        assertEquals(List.of(1, 4, 5, 63), set.stream().boxed().toList());
        List<Integer> iterated = new ArrayList<>();
        set.forEach(iterated::add);
        assertEquals(List.of(1, 4, 5, 63), iterated);
        assertEquals(63, set.nth(3));
        assertEquals(1, set.nth(0));
        assertEquals(2, set.indexOf(5));
        assertEquals(3, set.indexOf(63));
        assertEquals(-1, set.indexOf(2));
        assertThrows(IndexOutOfBoundsException.class, () -> set.nth(4));
        assertThrows(IndexOutOfBoundsException.class, () -> set.nth(-1));
        Iterator<Integer> done = NodeSet.empty().iterator();
        assertFalse(done.hasNext());
        assertThrows(NoSuchElementException.class, done::next);
    }

    @Test
    void shouldCombineSetsAndRejectNodesOutOfRange() {
        NodeSet a = NodeSet.parse("0-3");
        NodeSet b = NodeSet.parse("2-5");
        assertEquals(NodeSet.parse("0-5"), a.union(b));
        assertEquals(NodeSet.parse("2-3"), a.intersection(b));
        assertEquals(NodeSet.parse("0-1"), a.minus(b));
        assertEquals(a.hashCode(), NodeSet.of(0, 1, 2, 3).hashCode());
        assertFalse(a.equals(b));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeSet.of(64));
        assertEquals("node 64 is outside 0..63", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NodeSet.of(-1));
    }
}
