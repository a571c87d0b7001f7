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
        for (; i + 8 <= length; i += 8) {
            sum += s.get(WORD, offset + i);
        }
        for (; i < length; i++) {
            sum += (s.get(JAVA_BYTE, offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        return sum;
    }

    /** {@link #of(MemorySegment, long, long, long, long)} for an Agrona buffer (Aeron reads in place). */
    static long of(DirectBuffer b, int offset, int length, long position, long sum) {
        int i = 0;
        for (; i < length && ((position + i) & 7) != 0; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        for (; i + 8 <= length; i += 8) {
            sum += b.getLong(offset + i, LE);
        }
        for (; i < length; i++) {
            sum += (b.getByte(offset + i) & 0xFFL) << (8 * ((position + i) & 7));
        }
        return sum;
    }

    /** {@link #of(MemorySegment, long, long, long, long)} for a Netty buffer's readable bytes [offset, offset + length). */
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
