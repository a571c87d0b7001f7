package org.memreg.device;

/**
 * The rights a registration grants: what the device may do to the memory.
 *
 * <p>Local read is always granted (a registered buffer can always be sent from). The other
 * rights mirror the verbs access flags: {@link #LOCAL_WRITE} lets the device write into the
 * buffer (receive into it), {@link #REMOTE_READ} and {@link #REMOTE_WRITE} let a peer holding
 * the remote key read or write it. A registration with more rights satisfies a request for
 * fewer: see {@link #includes(Access)}.
 *
 * <p>Instances are immutable values; equal rights give equal (and identical) instances.
 */
public final class Access {
    private static final int LOCAL_WRITE_BIT = 1;
    private static final int REMOTE_READ_BIT = 2;
    private static final int REMOTE_WRITE_BIT = 4;
    private static final Access[] ALL_VALUES = new Access[8];

    static {
        for (int bits = 0; bits < ALL_VALUES.length; bits++) {
            ALL_VALUES[bits] = new Access(bits);
        }
    }

    /** Local read only: the device may read (send from) the buffer. */
    public static final Access LOCAL_READ = ALL_VALUES[0];
    /** The device may write into the buffer (receive into it). */
    public static final Access LOCAL_WRITE = ALL_VALUES[LOCAL_WRITE_BIT];
    /** A peer may read the buffer with the remote key. */
    public static final Access REMOTE_READ = ALL_VALUES[REMOTE_READ_BIT];
    /** A peer may write the buffer with the remote key. */
    public static final Access REMOTE_WRITE = ALL_VALUES[REMOTE_WRITE_BIT];
    /** Every right. */
    public static final Access ALL = ALL_VALUES[7];

    private final int bits;

    private Access(int bits) {
        this.bits = bits;
    }

    /** Returns the access with the given bit mask (bit 0 local write, 1 remote read, 2 remote write). */
    public static Access fromBits(int bits) {
        if (bits < 0 || bits >= ALL_VALUES.length) {
            throw new IllegalArgumentException("access bits out of range: " + bits);
        }
        return ALL_VALUES[bits];
    }

    /** The bit mask: bit 0 local write, bit 1 remote read, bit 2 remote write. */
    public int bits() {
        return bits;
    }

    /** The union of this access and {@code other}. */
    public Access with(Access other) {
        return ALL_VALUES[bits | other.bits];
    }

    /** True when a registration with this access may serve a request for {@code requested}. */
    public boolean includes(Access requested) {
        return (requested.bits & ~bits) == 0;
    }

    /** True when local writes (receives into the buffer) are allowed. */
    public boolean localWrite() {
        return (bits & LOCAL_WRITE_BIT) != 0;
    }

    /** True when peers may read through the remote key. */
    public boolean remoteRead() {
        return (bits & REMOTE_READ_BIT) != 0;
    }

    /** True when peers may write through the remote key. */
    public boolean remoteWrite() {
        return (bits & REMOTE_WRITE_BIT) != 0;
    }

    @Override
    public String toString() {
        if (bits == 0) {
            return "LOCAL_READ";
        }
        StringBuilder text = new StringBuilder();
        if (localWrite()) {
            text.append("LOCAL_WRITE");
        }
        if (remoteRead()) {
            text.append(text.isEmpty() ? "" : "|").append("REMOTE_READ");
        }
        if (remoteWrite()) {
            text.append(text.isEmpty() ? "" : "|").append("REMOTE_WRITE");
        }
        return text.toString();
    }
}
