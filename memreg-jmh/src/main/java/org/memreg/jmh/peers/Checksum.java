package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.netty.buffer.ByteBuf;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import org.agrona.DirectBuffer;

/**
 * The receivers' checksum: every byte of a message read once, where it lies. It is the sum, modulo
 * 2^64, of the message read as little-endian 8-byte words (the last one zero-padded), so a message
 * that arrives in pieces (Aeron fragments, TCP reads) sums to the same value as a whole one: each
 * piece is added at its position in the message. An 8-byte message's checksum is its value.
 *
 * <p>Each receiver reads as fast as its buffer lets it. A memory segment and an Agrona buffer put
 * the words into four sums, added at the end, so that each add need not wait for the one before:
 * with one sum the receiver of memreg's put was slower than the put, and Aeron's receiver gained
 * too. A Netty buffer keeps one sum (see its method). Figures: BENCHMARKS.md, issue 14, the
 * checksum's A/B.
 */
final class Checksum {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final java.lang.foreign.ValueLayout.OfLong WORD = JAVA_LONG_UNALIGNED.withOrder(LE);

    private Checksum() {
    }

    /** Adds bytes [offset, offset + length) of {@code s}, which sit at {@code position} in their message. */
    static long of(MemorySegment s, long offset, long length, long position, long sum) {
        long i = 0;
        for (; i < length && ((position + i) & 7) != 0; i++) {
            sum += (s.get(JAVA_BYTE, offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        long b1 = 0, b2 = 0, b3 = 0;
        for (; i + 32 <= length; i += 32) {
            sum += s.get(WORD, offset + i);
            b1 += s.get(WORD, offset + i + 8);
            b2 += s.get(WORD, offset + i + 16);
            b3 += s.get(WORD, offset + i + 24);
        }
        sum += b1 + b2 + b3;
        for (; i + 8 <= length; i += 8) {
            sum += s.get(WORD, offset + i);
        }
        for (; i < length; i++) {
            sum += (s.get(JAVA_BYTE, offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        return sum;
    }

    /** The checksum of a message of {@code length} bytes, each {@code value}, without reading one. */
    static long ofFill(byte value, long length) {
        long word = (value & 0xFFL) * 0x0101010101010101L;
        long sum = (length >>> 3) * word;
        for (long i = 0; i < (length & 7); i++) {
            sum += (value & 0xFFL) << (8 * i);
        }
        return sum;
    }

    /** {@link #of(MemorySegment, long, long, long, long)} for an Agrona buffer (Aeron reads in place). */
    static long of(DirectBuffer b, int offset, int length, long position, long sum) {
        int i = 0;
        for (; i < length && ((position + i) & 7) != 0; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        long b1 = 0, b2 = 0, b3 = 0;
        for (; i + 32 <= length; i += 32) {
            sum += b.getLong(offset + i, LE);
            b1 += b.getLong(offset + i + 8, LE);
            b2 += b.getLong(offset + i + 16, LE);
            b3 += b.getLong(offset + i + 24, LE);
        }
        sum += b1 + b2 + b3;
        for (; i + 8 <= length; i += 8) {
            sum += b.getLong(offset + i, LE);
        }
        for (; i < length; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        return sum;
    }

    /**
     * {@link #of(MemorySegment, long, long, long, long)} for a Netty buffer's readable bytes [offset,
     * offset + length), with one sum: four made Netty's 1 MiB and 16 MiB streams slower here (why is
     * not pinned down).
     */
    static long of(ByteBuf b, int offset, int length, long position, long sum) {
        int i = 0;
        for (; i < length && ((position + i) & 7) != 0; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        for (; i + 8 <= length; i += 8) {
            sum += b.getLongLE(offset + i);
        }
        for (; i < length; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        return sum;
    }
}
