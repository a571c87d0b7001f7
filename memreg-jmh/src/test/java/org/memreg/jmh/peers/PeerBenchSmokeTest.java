package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code bin/bench-jvm-peers} in smoke mode: every system, latency and throughput, tiny counts, in
 * one JVM. Asserts that each produced its row and that every checksum matched; no timing.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PeerBenchSmokeTest {
    @Test
    void everySystemShouldProduceEachRowWithMatchingChecksums() throws Exception {
        List<String> rows = PeerBench.smoke();
        rows.forEach(System.out::println);
        assertEquals(PeerBench.SYSTEMS.length * PeerBench.SMOKE_CASES.length, rows.size());
        for (String system : PeerBench.SYSTEMS) {
            for (String test : new String[] {"lat", "bw", "fresh"}) {
                assertTrue(rows.stream().anyMatch(r -> r.startsWith(system + "," + test + ",")), system + " " + test);
            }
        }
        for (String row : rows) {
            String[] f = row.split(",", -1);
            assertEquals("matched", f[9], row);
            assertFalse((f[1].equals("lat") ? f[5] : f[8]).isEmpty(), "a figure in " + row);
        }
    }

    /**
     * The one-sided links with a ring of two slots, as 16 MiB messages get it: a notice and a credit
     * per message, and the sender writes a slot the moment its credit comes. Fresh messages many
     * times the ring; a slot written before the receiver read it would fail a checksum.
     */
    @Test
    void oneSidedLinksShouldKeepTheirRulesWithARingOfTwoSlots() throws Exception {
        String[][] cases = {{"fresh", "65536", "300", "50"}, {"bw", "65536", "40", "10"}};
        List<String> rows;
        System.setProperty("bench.ringBytes", String.valueOf(2 * 65536));
        try {
            assertEquals(2, OneSidedLink.ringSlots(65536));
            assertEquals(1, OneSidedLink.batch(2));
            rows = PeerBench.smoke(new String[] {"memreg-put", "memreg-mapped"}, cases);
        } finally {
            System.clearProperty("bench.ringBytes");
        }
        rows.forEach(System.out::println);
        assertEquals(4, rows.size());
        for (String row : rows) {
            String[] f = row.split(",", -1);
            assertEquals("matched", f[9], row);
            boolean oneBuffer = f[0].equals("memreg-mapped") && f[1].equals("bw"); // never rewritten: no ring
            assertTrue(oneBuffer || f[10].contains("next of 2 slots"), row);
        }
    }

    /** Rings within {@link OneSidedLink#RING_BYTES}: 16 slots of small messages, 2 of 16 MiB, a notice per half. */
    @Test
    void ringsShouldKeepWithinTheirBytesAndNoticeEveryHalf() {
        assertEquals(16, OneSidedLink.ringSlots(8));
        assertEquals(16, OneSidedLink.ringSlots(1 << 20));
        assertEquals(8, OneSidedLink.ringSlots(4 << 20));
        assertEquals(2, OneSidedLink.ringSlots(16 << 20));
        assertEquals(2, OneSidedLink.ringSlots(64 << 20)); // a ring needs two, whatever it takes
        assertEquals(8, OneSidedLink.batch(16));
        assertEquals(4, OneSidedLink.batch(8));
        assertEquals(1, OneSidedLink.batch(2));
    }

    /**
     * Aeron's terms: a power of two from 64 KiB to 1 GiB (Aeron refuses others) that holds 16
     * messages (a message may be at most an eighth of a term); 8-byte messages keep a small term.
     */
    @Test
    void aeronTermsShouldBeValidAndHoldSixteenMessages() {
        assertEquals(512 << 10, AeronLink.termLength(8));
        for (int size : new int[] {65536, 1 << 20, 3 << 20, 16 << 20, 64 << 20}) {
            int term = AeronLink.termLength(size);
            assertEquals(1, Integer.bitCount(term), size + ": " + term);
            assertTrue(term >= 64 << 10 && term <= 1 << 30, size + ": " + term);
            assertTrue(term >= 16L * size && term >= 256 << 20, size + ": " + term);
        }
    }

    /** The checksum of a message in pieces (as fragments and TCP reads deliver it) equals the whole one's. */
    @Test
    void checksumShouldNotDependOnHowTheMessageIsSplit() {
        SplittableRandom random = seeded();
        try (Arena arena = Arena.ofConfined()) {
            for (int round = 0; round < 200; round++) {
                int length = 1 + random.nextInt(5000);
                MemorySegment message = randomMessage(arena, random, length);
                long whole = Checksum.of(message, 0, length, 0, 0);
                long sum = 0;
                for (int at = 0; at < length;) {
                    int piece = Math.min(length - at, 1 + random.nextInt(300));
                    sum = Checksum.of(message, at, piece, at, sum);
                    at += piece;
                }
                assertEquals(whole, sum, "length " + length + ", round " + round);
                int at = random.nextInt(length);
                message.set(JAVA_BYTE, at, (byte) ~message.get(JAVA_BYTE, at));
                assertTrue(Checksum.of(message, 0, length, 0, 0) != whole, "a changed byte changes the checksum");
            }
        }
    }

    /**
     * Each receiver's checksum (a memory segment, Aeron's buffer, Netty's) equals the definition,
     * byte by byte, for any length and position: the unrolled word loop must add each word once.
     */
    @Test
    void everyChecksumShouldMatchTheDefinition() {
        SplittableRandom random = seeded();
        try (Arena arena = Arena.ofConfined()) {
            for (int round = 0; round < 200; round++) {
                int length = 1 + random.nextInt(5000);
                long position = random.nextInt(16);
                MemorySegment bytes = randomMessage(arena, random, length);
                long expected = 0;
                for (int i = 0; i < length; i++) {
                    expected += (bytes.get(JAVA_BYTE, i) & 0xFFL) << (8 * ((position + i) & 7));
                }
                String where = "length " + length + ", position " + position + ", round " + round;
                assertEquals(expected, Checksum.of(bytes, 0, length, position, 0), "segment, " + where);
                assertEquals(expected, Checksum.of(new UnsafeBuffer(bytes.address(), length), 0, length, position, 0),
                        "Agrona, " + where);
                assertEquals(expected, Checksum.of(Unpooled.wrappedBuffer(bytes.asByteBuffer()), 0, length, position, 0),
                        "Netty, " + where);
            }
        }
    }

    /** A fresh message's checksum, computed without reading it, equals the one its receiver reads. */
    @Test
    void freshMessagesShouldSumAsTheirReceiversRead() {
        SplittableRandom random = seeded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(5000);
            for (int round = 0; round < 300; round++) {
                int size = 1 + random.nextInt(5000);
                long n = random.nextLong(1 << 20);
                long sum = PeerBench.writeFresh(memory, size, n);
                assertEquals(Checksum.of(memory, 0, size, 0, 0), sum, "size " + size + ", message " + n);
                assertTrue(memory.get(JAVA_BYTE, size - 1) != 0, "a fresh message holds no zero byte");
            }
            assertTrue(PeerBench.writeFresh(memory, 64, 0) != PeerBench.writeFresh(memory, 64, 16),
                    "a slot reused 16 messages later holds another message");
        }
    }

    private static SplittableRandom seeded() {
        long seed = Long.getLong("memreg.test.seed", System.nanoTime());
        System.out.println("PeerBenchSmokeTest seed " + seed + " (-Dmemreg.test.seed=" + seed + ")");
        return new SplittableRandom(seed);
    }

    private static MemorySegment randomMessage(Arena arena, SplittableRandom random, int length) {
        MemorySegment message = arena.allocate(length);
        for (int i = 0; i < length; i++) {
            message.set(JAVA_BYTE, i, (byte) random.nextInt());
        }
        return message;
    }
}
