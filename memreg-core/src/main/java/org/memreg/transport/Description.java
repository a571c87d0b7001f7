package org.memreg.transport;

import java.nio.ByteBuffer;
import org.memreg.linux.SysvShm;

/**
 * An owner's answer when a peer asks about a window key ({@link Endpoint#attach}): the window's
 * key as the owner issued it, or why there is none. It travels as a control message:
 *
 * <pre>
 * 0        4       8              16
 * | status | shmid | IPC namespace | key bytes ({@link WindowKey#toBytes()}, status OK only) |
 * </pre>
 *
 * {@code shmid} is the SysV segment behind the window (or -1) and the namespace that of the
 * owner ({@link SysvShm#NAMESPACE}): a peer in the same namespace holds the segment while UCX
 * unpacks the remote key, so that an owner closing the window (or dying) meanwhile makes the
 * attach fail cleanly instead of crashing UCX.
 */
record Description(Status status, WindowKey key, int shmid, long namespace) {
    static final int FIXED = 16;

    /** What the owner says of the generation asked about. */
    enum Status {
        OK("described"),
        UNKNOWN("its owner has no such window (closed, or never made)"),
        REVOKED("revoked by its owner"),
        NOT_ISSUED("its owner never issued that generation");

        final String reason;

        Status(String reason) {
            this.reason = reason;
        }
    }

    Description(Status status, WindowKey key, int shmid) {
        this(status, key, shmid, SysvShm.NAMESPACE);
    }

    static Description refusal(Status status) {
        return new Description(status, null, -1, SysvShm.NAMESPACE);
    }

    byte[] toBytes() {
        byte[] key = status == Status.OK ? this.key.toBytes() : new byte[0];
        return ByteBuffer.allocate(FIXED + key.length).putInt(status.ordinal()).putInt(shmid).putLong(namespace)
                .put(key).array();
    }

    /**
     * Reads a description.
     *
     * @throws IllegalArgumentException when the bytes are not one
     */
    static Description parse(byte[] bytes) {
        if (bytes.length < FIXED) {
            throw new IllegalArgumentException("a window description of " + bytes.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int status = b.getInt();
        if (status < 0 || status >= Status.values().length) {
            throw new IllegalArgumentException("a window description with status " + status);
        }
        int shmid = b.getInt();
        long namespace = b.getLong();
        Status s = Status.values()[status];
        if (s != Status.OK) {
            return new Description(s, null, shmid, namespace);
        }
        return new Description(s, WindowKey.fromBytes(bytes, FIXED, bytes.length - FIXED), shmid, namespace);
    }
}
