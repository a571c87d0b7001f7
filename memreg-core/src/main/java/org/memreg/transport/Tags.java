package org.memreg.transport;

/**
 * How memreg divides UCX's 64-bit tag space. User tags are 56 bits; the top byte says what a
 * message is:
 *
 * <pre>
 *  63      56 55                                   0
 * +----------+--------------------------------------+
 * | 0000000R |            user tag (56 bits)        |  user message: R=0 eager data,
 * +----------+--------------------------------------+                R=1 rendezvous header
 * | 10000000 |            message id (56 bits)      |  one chunk of a rendezvous message
 * +----------+--------+-----------------------------+
 * | 11000000 |  type  |     value (48 bits)         |  control: hello, reply, ack, revoke, refuse
 * +----------+--------+-----------------------------+
 * </pre>
 *
 * A user receive matches both R values (mask without bit 56) and nothing else. Chunks of one
 * message share one tag, so UCX's in-order matching for equal tags from one sender puts chunk i
 * into the i-th chunk receive.
 */
final class Tags {
    static final long USER_MAX = (1L << 56) - 1;
    static final long RTS_BIT = 1L << 56;
    static final long USER_RECEIVE_MASK = ~RTS_BIT;
    static final long CHUNK = 0x80L << 56;
    static final long ID_MASK = (1L << 56) - 1;
    static final long EXACT = -1L;
    static final long CTRL = 0xC0L << 56;
    static final long LOW48 = (1L << 48) - 1;
    static final long CTRL_TYPE_MASK = ~LOW48;
    static final long HELLO = CTRL | 1L << 48;
    static final long REPLY = CTRL | 2L << 48;
    static final long ACK = CTRL | 3L << 48;
    static final long REVOKE = CTRL | 4L << 48;
    static final long REVOKE_ACK = CTRL | 5L << 48;
    /** A receiver refuses a rendezvous message (its buffer is too small): payload message id, buffer size. */
    static final long REFUSE = CTRL | 6L << 48;

    private Tags() {
    }

    static long checkUserTag(long tag) {
        if (tag < 0 || tag > USER_MAX) {
            throw new IllegalArgumentException("tag must be in [0, 2^56): " + tag);
        }
        return tag;
    }
}
