package org.memreg.transport;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.memreg.device.Access;

/**
 * What a peer needs to put into or get from a {@link Window}: the owner node, an unguessable
 * window id, the key's generation, the window's range and rights, and UCX's packed remote key.
 * The owner hands it out ({@link Window#key()}); it travels as bytes ({@link #toBytes()}, e.g. in
 * a tagged message) and is checked at the origin before anything is sent: owner, generation
 * (against revocations the owner sent), bounds and access.
 *
 * <pre>
 * 0       8          16          24        32       40     44       48
 * | owner | windowId | generation | address | length | bits | rkeyLen | rkey bytes ... |
 * </pre>
 */
public record WindowKey(long owner, long windowId, long generation, long address, long length, Access access,
        byte[] rkey) {
    private static final int FIXED = 48;

    public WindowKey {
        rkey = rkey.clone();
    }

    @Override
    public byte[] rkey() {
        return rkey.clone();
    }

    /** The key as bytes, to send to a peer. */
    public byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(FIXED + rkey.length);
        b.putLong(owner).putLong(windowId).putLong(generation).putLong(address).putLong(length)
                .putInt(access.bits()).putInt(rkey.length).put(rkey);
        return b.array();
    }

    /** Reads a key written by {@link #toBytes()}; throws IllegalArgumentException when malformed. */
    public static WindowKey fromBytes(byte[] bytes, int offset, int length) {
        if (length < FIXED) {
            throw new IllegalArgumentException("window key too short: " + length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, offset, length);
        long owner = b.getLong();
        long id = b.getLong();
        long generation = b.getLong();
        long address = b.getLong();
        long size = b.getLong();
        int bits = b.getInt();
        int rkeyLength = b.getInt();
        if (rkeyLength < 0 || rkeyLength > b.remaining() || size <= 0) {
            throw new IllegalArgumentException("malformed window key");
        }
        byte[] rkey = new byte[rkeyLength];
        b.get(rkey);
        return new WindowKey(owner, id, generation, address, size, Access.fromBits(bits & 7), rkey);
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
