package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * How ODP control messages travel over the transport's tagged messages. ODP reserves the user
 * tags whose top byte (bits 48..55) is {@code 0xD0}; applications that use ODP must not send
 * under those tags. Within the range, bits 32..39 say the kind and the low 32 bits are the
 * region number both sides agreed on:
 *
 * <pre>
 *  55      48 47    40 39    32 31                             0
 * +----------+--------+--------+--------------------------------+
 * | 11010000 |   0    |  kind  |        region number           |
 * +----------+--------+--------+--------------------------------+
 *   kind 1 SETUP     owner -> peer: page size, pages, window key
 *   kind 2 TO_PEER   owner -> peer: INVALIDATE, ESTABLISHED
 *   kind 3 TO_OWNER  peer -> owner: ACK, FAULT
 * </pre>
 *
 * Every protocol message is 40 bytes (little endian, native order of both ends):
 *
 * <pre>
 * 0      4       8       12      16       24       32       40
 * | type | first | count | 0     | peer   | epoch  | token  |
 * </pre>
 *
 * type 1 INVALIDATE, 2 ACK, 3 FAULT, 4 ESTABLISHED; {@code peer} is 0 for owner-to-peer messages.
 * SETUP is {@code | pageSize (8) | pages (4) | keyLength (4) | token (8) | key bytes |}. One more
 * owner-to-peer message travels under TO_PEER, outside the protocol of {@link OdpMessage} (the
 * Promela model has no keys): REKEY, {@code | type 5 (4) | keyLength (4) | token (8) | key bytes |},
 * the window's next key generation, sent to the remaining peers just before the owner revokes the
 * current one to cut a late peer off (see {@link OdpRegion}). And one peer-to-owner message under
 * TO_OWNER: DETACH, a protocol message of type 6 naming the peer (range and epoch 0), which a peer
 * sends when its mapping closes with none of its operations in flight: it acknowledges every
 * reclaim, now and later, and the owner cuts it off at once rather than at its lease (no re-key).
 *
 * <p>Tags do not name their sender, and any node connected to the owner or to a peer can send
 * under these tags. So the owner draws a random token for each peer it serves and tells it to
 * that peer alone, in its SETUP; every later message between the two, either way, carries it, and
 * a message without the right one is dropped. Without it, any node could acknowledge a reclaim
 * in a served peer's name (the owner gave a page back while that peer still wrote to it), or
 * invalidate and establish pages at a peer.
 */
final class OdpWire {
    static final long BASE = 0xD0L << 48;
    static final long SETUP = 1;
    static final long TO_PEER = 2;
    static final long TO_OWNER = 3;
    static final int BYTES = 40;
    static final int SETUP_HEADER = 24;
    /** Bytes of a REKEY before its key: type, key length, token. */
    static final int REKEY_HEADER = 16;
    static final int REKEY = 5;
    static final int DETACH = 6;
    /** Room for a SETUP or REKEY (a packed UCX remote key is far smaller). */
    static final int MAX_BYTES = 64 << 10;

    private OdpWire() {
    }

    static long tag(long kind, int region) {
        return BASE | kind << 32 | (region & 0xFFFF_FFFFL);
    }

    /** A fresh segment holding {@code m} and {@code token} (fresh: a send may not complete before the next). */
    static MemorySegment encode(OdpMessage m, long token) {
        MemorySegment s = Arena.ofAuto().allocate(BYTES, 8);
        int type;
        long peer = 0;
        switch (m) {
            case OdpMessage.Invalidate i -> type = 1;
            case OdpMessage.Ack a -> {
                type = 2;
                peer = a.peer();
            }
            case OdpMessage.Fault f -> {
                type = 3;
                peer = f.peer();
            }
            case OdpMessage.Established e -> type = 4;
        }
        s.set(JAVA_INT, 0, type);
        s.set(JAVA_INT, 4, m.range().first());
        s.set(JAVA_INT, 8, m.range().count());
        s.set(JAVA_LONG, 16, peer);
        s.set(JAVA_LONG, 24, m.epoch());
        s.set(JAVA_LONG, 32, token);
        return s;
    }

    /** A fresh segment holding a REKEY with {@code key} (a {@code WindowKey.toBytes()}) and {@code token}. */
    static MemorySegment encodeRekey(byte[] key, long token) {
        MemorySegment s = Arena.ofAuto().allocate(REKEY_HEADER + key.length, 8);
        s.set(JAVA_INT, 0, REKEY);
        s.set(JAVA_INT, 4, key.length);
        s.set(JAVA_LONG, 8, token);
        s.asSlice(REKEY_HEADER).copyFrom(MemorySegment.ofArray(key));
        return s;
    }

    /** A fresh segment holding a DETACH of {@code peer}, with {@code token}. */
    static MemorySegment encodeDetach(long peer, long token) {
        MemorySegment s = Arena.ofAuto().allocate(BYTES, 8);
        s.set(JAVA_INT, 0, DETACH);
        s.set(JAVA_LONG, 16, peer);
        s.set(JAVA_LONG, 32, token);
        return s;
    }

    /** The peer a DETACH of {@code length} bytes in {@code s} names, or 0 when it is no DETACH. */
    static long detachedPeer(MemorySegment s, long length) {
        return length == BYTES && s.get(JAVA_INT, 0) == DETACH ? s.get(JAVA_LONG, 16) : 0;
    }

    /** True when the {@code length} bytes in {@code s} are a REKEY. */
    static boolean isRekey(MemorySegment s, long length) {
        return length >= REKEY_HEADER && s.get(JAVA_INT, 0) == REKEY;
    }

    /** The token of the {@code length} bytes in {@code s}: a REKEY's or a protocol message's; 0 (no token) for anything else. */
    static long token(MemorySegment s, long length) {
        return isRekey(s, length) ? s.get(JAVA_LONG, 8) : length == BYTES ? s.get(JAVA_LONG, 32) : 0;
    }

    /** The key bytes of the REKEY in {@code s}. */
    static byte[] rekeyBytes(MemorySegment s, long length) {
        int keyLength = s.get(JAVA_INT, 4);
        if (keyLength < 0 || keyLength > length - REKEY_HEADER) {
            throw new IllegalArgumentException("malformed REKEY of " + length + " bytes");
        }
        return s.asSlice(REKEY_HEADER, keyLength).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    /** The message in {@code s} (length {@code length}); throws IllegalArgumentException when malformed. */
    static OdpMessage decode(MemorySegment s, long length) {
        if (length != BYTES) {
            throw new IllegalArgumentException("ODP message of " + length + " bytes");
        }
        PageRange range = new PageRange(s.get(JAVA_INT, 4), s.get(JAVA_INT, 8));
        long peer = s.get(JAVA_LONG, 16);
        long epoch = s.get(JAVA_LONG, 24);
        return switch (s.get(JAVA_INT, 0)) {
            case 1 -> new OdpMessage.Invalidate(range, epoch);
            case 2 -> new OdpMessage.Ack(peer, range, epoch);
            case 3 -> new OdpMessage.Fault(peer, range, epoch);
            case 4 -> new OdpMessage.Established(range, epoch);
            default -> throw new IllegalArgumentException("unknown ODP message type " + s.get(JAVA_INT, 0));
        };
    }

    /**
     * Stops a control thread that waits in {@code receive}: cancels the receive and waits up to
     * 10 s for the thread; true when it has ended (only then may its buffers be freed).
     */
    static boolean stopReceiving(CompletableFuture<Long> receive, Thread thread) {
        if (receive != null) {
            receive.cancel(false);
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }
}
