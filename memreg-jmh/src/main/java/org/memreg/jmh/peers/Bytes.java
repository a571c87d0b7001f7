package org.memreg.jmh.peers;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A native send buffer that each system wraps its own way (segment, Agrona buffer, Netty buffer). */
record Bytes(MemorySegment segment, ByteBuffer buffer) {
    static Bytes allocate(int size) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(Math.max(size, 8)).order(ByteOrder.LITTLE_ENDIAN);
        return new Bytes(MemorySegment.ofBuffer(buffer), buffer);
    }

    /** Fills the first {@code length} bytes with a pattern from {@code seed}; returns their checksum. */
    long fill(int length, long seed) {
        long x = seed;
        for (int i = 0; i < length; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            segment.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (x >>> 56));
        }
        return Checksum.of(segment, 0, length, 0, 0);
    }

    /** Writes {@code value} as the first 8 bytes (an 8-byte message's checksum is its value). */
    void putLong(long value) {
        buffer.putLong(0, value);
    }
}
