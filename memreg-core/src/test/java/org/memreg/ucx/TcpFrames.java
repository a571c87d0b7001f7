package org.memreg.ucx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Bytes of a UCX 1.13 TCP stream ({@code uct/tcp/tcp.h}), as a test sends them to a worker's UCX
 * TCP port: the magic number, frame headers ({@code uct_tcp_am_hdr_t}: id, length), connection
 * requests, put requests, and UCP's messages (wire-up, rendezvous data, software put and get
 * requests). Little-endian, as UCX writes them here.
 */
final class TcpFrames {
    static final long MAGIC = 0xCAFEBABE12345678L; // UCT_TCP_MAGIC_NUMBER
    static final int CM = 32;                      // UCT_TCP_EP_CM_AM_ID
    static final int PUT_REQ = 33;
    static final int PUT_ACK = 34;
    static final int WIREUP = 1;                   // UCP_AM_ID_WIREUP
    static final int RNDV_DATA = 12;               // UCP_AM_ID_RNDV_DATA
    static final int SW_PUT = 17;                  // UCP_AM_ID_PUT
    static final int SW_GET = 18;                  // UCP_AM_ID_GET_REQ
    static final int CONN_REQ = 1;
    static final int CONNECT_TO_EP = 1;            // UCT_TCP_CM_CONN_REQ_PKT_FLAG_CONNECT_TO_EP
    private static final int AF_INET = 2;

    private final ByteBuffer out = ByteBuffer.allocate(1 << 12).order(ByteOrder.LITTLE_ENDIAN);

    TcpFrames bytes(byte[] bytes) {
        out.put(bytes);
        return this;
    }

    TcpFrames magic() {
        out.putLong(MAGIC);
        return this;
    }

    /** A frame header claiming {@code length} bytes of body (the body is up to the caller). */
    TcpFrames header(int id, int length) {
        out.put((byte) id).putInt(length);
        return this;
    }

    /** A connection request ({@code uct_tcp_cm_conn_req_pkt_t}) naming 127.0.0.1:{@code port}. */
    TcpFrames request(long sn, int flags, int port) {
        header(CM, 13 + 16).putInt(CONN_REQ).put((byte) flags).putLong(sn);
        out.putShort((short) AF_INET).order(ByteOrder.BIG_ENDIAN).putShort((short) port).put(new byte[] {127, 0, 0, 1})
                .order(ByteOrder.LITTLE_ENDIAN).put(new byte[8]);
        return this;
    }

    /**
     * A UCP wire-up message ({@code ucp_wireup_msg_t}) of {@code type} to endpoint {@code
     * destination}, from endpoint 1 (indirect), with no address after it.
     */
    TcpFrames wireup(int type, long destination) {
        header(WIREUP, 20).put((byte) type).put((byte) 0).putShort((short) 0).putLong(1).putLong(destination);
        return this;
    }

    TcpFrames putInt(int value) {
        out.putInt(value);
        return this;
    }

    TcpFrames putShort(short value) {
        out.putShort(value);
        return this;
    }

    TcpFrames putLong(long value) {
        out.putLong(value);
        return this;
    }

    TcpFrames put(byte value) {
        out.put(value);
        return this;
    }

    byte[] toArray() {
        return Arrays.copyOf(out.array(), out.position());
    }
}
