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
 * | 11000000 |  type  |     value (48 bits)         |  control: hello, reply, ack, revoke, refuse,
 * +----------+--------+-----------------------------+           delivered, describe, bye and answers
 * +----------+--------+-----------------------------+
 * </pre>
 *
 * A user receive matches both R values (mask without bit 56) and nothing else. Chunks of one
 * message share one tag, so UCX's in-order matching for equal tags from one sender puts chunk i
 * into the i-th chunk receive.
 *
 * <p>Control types with the top bit set (hello, ack, revoke, refuse, delivered, describe, bye) arrive unasked and
 * are all taken by the node's one standing receive ({@link #UNASKED}, {@link #UNASKED_MASK}); the
 * others (reply, revoke acknowledgement, description) answer a request and are taken by an exact
 * receive posted for that one answer. One standing receive rather than one per type: the progress loop tests each
 * posted receive after every event, a downcall each.
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
    /** The standing receive's tag and mask: every control type with the top bit set. */
    static final long UNASKED = CTRL | 0x80L << 48;
    static final long UNASKED_MASK = 0xFFL << 56 | 0x80L << 48;
    static final long HELLO = CTRL | 0x81L << 48;
    static final long REPLY = CTRL | 0x02L << 48;
    /** The connecting side confirms: payload its node id, its token ({@link Connections}). */
    static final long ACK = CTRL | 0x83L << 48;
    /** An owner revoked a window generation: payload its node id, token, window id, generation, ack id. */
    static final long REVOKE = CTRL | 0x84L << 48;
    static final long REVOKE_ACK = CTRL | 0x05L << 48;
    /** A receiver refuses a rendezvous message (its buffer is too small): payload message id, buffer size. */
    static final long REFUSE = CTRL | 0x86L << 48;
    /** A peer asks about a window key: payload its node id, token, request id, window id, generation. */
    static final long DESCRIBE = CTRL | 0x87L << 48;
    /** A peer closed its endpoint to us: payload its node id, token. */
    static final long BYE = CTRL | 0x88L << 48;
    /** The owner's answer to {@link #DESCRIBE}, under the request id: a {@link Description}. */
    static final long DESCRIPTION = CTRL | 0x08L << 48;
    /** A receiver has the whole of a rendezvous message: payload message id. Its send completes on it. */
    static final long DELIVERED = CTRL | 0x89L << 48;

    private Tags() {
    }

    /** True for a tag of memreg's: a user message, a chunk or a control message by its top byte; no peer of memreg's sends others. */
    static boolean isMemregTag(long tag) {
        long top = tag >>> 56;
        return top <= 1 || top == CHUNK >>> 56 || top == CTRL >>> 56;
    }

    static long checkUserTag(long tag) {
        if (tag < 0 || tag > USER_MAX) {
            throw new IllegalArgumentException("tag must be in [0, 2^56): " + tag);
        }
        return tag;
    }
}
