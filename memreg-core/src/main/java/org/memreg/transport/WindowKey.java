package org.memreg.transport;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.memreg.device.Access;

/**
 * What a peer needs to put into or get from a {@link Window}: the owner node, an unguessable
 * window id, the key's generation, the window's range and rights, and UCX's packed remote key.
 * The owner hands it out ({@link Window#key()}); it travels as bytes ({@link #toBytes()}, e.g. in
 * a tagged message). The bytes only select a window: {@link Endpoint#attach} asks the owner to
 * describe it and refuses a key the owner did not issue exactly so (closed, revoked, never issued,
 * or altered in any field). Puts and gets are then checked at the origin before anything is sent:
 * generation (against revocations the owner sent), bounds and access.
 *
 * <pre>
 * 0       8          16          24        32       40     44       48
 * | owner | windowId | generation | address | length | bits | rkeyLen | rkey bytes ... |
 * </pre>
 */
public record WindowKey(long owner, long windowId, long generation, long address, long length, Access access,
        byte[] rkey) {
    /** Bytes of a key before its remote key. */
    static final int BYTES_BEFORE_RKEY = 48;

    public WindowKey {
        rkey = rkey.clone();
    }

    @Override
    public byte[] rkey() {
        return rkey.clone();
    }

    /** The key as bytes, to send to a peer. */
    public byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(BYTES_BEFORE_RKEY + rkey.length);
        b.putLong(owner).putLong(windowId).putLong(generation).putLong(address).putLong(length)
                .putInt(access.bits()).putInt(rkey.length).put(rkey);
        return b.array();
    }

    /**
     * Reads a key written by {@link #toBytes()} from {@code bytes[offset, offset + length)}, which
     * must hold exactly one key.
     *
     * @throws IllegalArgumentException when the range lies outside {@code bytes} or the key is
     *     malformed: too short, trailing bytes, a remote key longer than what follows, unknown
     *     access bits, a length that is not positive or a range that wraps past the address space
     */
    public static WindowKey fromBytes(byte[] bytes, int offset, int length) {
        Objects.requireNonNull(bytes, "bytes");
        if (offset < 0 || length < 0 || offset > bytes.length - length) {
            throw new IllegalArgumentException("window key at [" + offset + ", " + offset + " + " + length
                    + ") lies outside the " + bytes.length + " bytes given");
        }
        if (length < BYTES_BEFORE_RKEY) {
            throw new IllegalArgumentException("window key too short: " + length + " bytes, at least " + BYTES_BEFORE_RKEY);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, offset, length);
        long owner = b.getLong();
        long id = b.getLong();
        long generation = b.getLong();
        long address = b.getLong();
        long size = b.getLong();
        int bits = b.getInt();
        int rkeyLength = b.getInt();
        if (rkeyLength < 0 || rkeyLength != b.remaining()) {
            throw new IllegalArgumentException("malformed window key: remote key of " + rkeyLength + " bytes where "
                    + b.remaining() + " follow");
        }
        if ((bits & ~7) != 0) {
            throw new IllegalArgumentException("malformed window key: unknown access bits 0x" + Integer.toHexString(bits));
        }
        if (size <= 0 || Long.compareUnsigned(address + size, address) < 0) {
            throw new IllegalArgumentException(String.format("malformed window key: %d bytes at 0x%x", size, address));
        }
        byte[] rkey = new byte[rkeyLength];
        b.get(rkey);
        return new WindowKey(owner, id, generation, address, size, Access.fromBits(bits), rkey);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WindowKey k && k.owner == owner && k.windowId == windowId && k.generation == generation
                && k.address == address && k.length == length && k.access == access && Arrays.equals(k.rkey, rkey);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(windowId) * 31 + Long.hashCode(generation);
    }

    @Override
    public String toString() {
        return String.format("WindowKey[owner %016x window %016x gen %d, %d bytes, %s]", owner, windowId, generation,
                length, access);
    }
}
