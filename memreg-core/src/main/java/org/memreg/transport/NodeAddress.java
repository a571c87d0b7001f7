package org.memreg.transport;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * What {@link Node#workerAddress()} hands out and {@link Node#connect(byte[])} takes: the node's
 * UCX worker address wrapped with what must agree before UCX may see it, and a checksum, so that
 * a mismatched or damaged address is refused in Java rather than handed to
 * {@code ucp_ep_create}:
 *
 * <pre>
 * 0       4         6      7       8        16        20               20+n
 * | magic | version | mode | flags | nodeId | ucxLen n | UCX address ... | CRC32C of all before |
 * </pre>
 */
record NodeAddress(int version, ErrorMode errorMode, long nodeId, byte[] ucx) {
    private static final int MAGIC = 0x4d524741; // "MRGA"
    private static final int FIXED = 24;

    byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(FIXED + ucx.length);
        b.putInt(MAGIC).putShort((short) version).put((byte) errorMode.ordinal()).put((byte) 0).putLong(nodeId)
                .putInt(ucx.length).put(ucx);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /**
     * Reads an address written by {@link #toBytes()}.
     *
     * @throws IllegalArgumentException when the bytes are not such an address or are damaged
     */
    static NodeAddress parse(byte[] bytes) {
        if (bytes.length < FIXED) {
            throw new IllegalArgumentException("not a memreg node address: " + bytes.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (b.getInt() != MAGIC) {
            throw new IllegalArgumentException("not a memreg node address (bad magic)");
        }
        int version = Short.toUnsignedInt(b.getShort());
        int mode = b.get();
        b.get();
        long nodeId = b.getLong();
        int length = b.getInt();
        if (length <= 0 || length != bytes.length - FIXED) {
            throw new IllegalArgumentException("damaged memreg node address: UCX part of " + length + " bytes in "
                    + bytes.length);
        }
        byte[] ucx = new byte[length];
        b.get(ucx);
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        if (b.getInt() != (int) crc.getValue()) {
            throw new IllegalArgumentException("damaged memreg node address (checksum)");
        }
        if (mode < 0 || mode >= ErrorMode.values().length) {
            throw new IllegalArgumentException("memreg node address with unknown error mode " + mode);
        }
        return new NodeAddress(version, ErrorMode.values()[mode], nodeId, ucx);
    }
}
