/*
 * The frames of a UCX 1.13 TCP stream, read by the TCP guard as they arrive and before UCX parses
 * them: a frame UCX would abort on ends the connection instead, and so does a put or get that
 * reaches memory not exposed to peers (memreg_exposed.c), a UCP message of a kind memreg never
 * sends, and a rendezvous RTS not of its form. What UCP's other messages say is not judged here
 * (memreg_handler_guard.c drops two kinds where UCP asserts on them).
 *
 * The stream (uct/tcp/tcp_ep.c, tcp_cm.c): a connection accepted at a listener opens with UCX's
 * 8-byte magic number and a connection request; then, both ways, frames of a 5-byte header
 * (uint8 am_id, uint32 length, packed) and length bytes of body. am_id < 32 is a UCP active
 * message (UCP has a handler or a stub for every one); 32 is a connection-manager event, 33 a
 * put request (20 bytes: address, length, sequence number; then length bytes of raw data that
 * UCX writes to that address), 34 a put acknowledgement (4 bytes), 35 a keepalive. UCX asserts
 * what it expects of each and aborts the process otherwise (tcp_ep.c:939, :1323, :1404, :1422,
 * :1433, :1440; tcp_cm.c:557, :600, :680, :688). Among UCP's messages, a software put (17: address,
 * endpoint id, memory type, then the data) and get request (18: address, length, request and
 * endpoint ids, memory type) name memory of the receiver's, which UCP writes and reads unchecked
 * (rma_sw.c). And many of UCP's messages name an endpoint or request of the receiver's by the id
 * it gave the sender: UCP 1.13 takes an id whose lowest bit is clear as a plain pointer and
 * follows it (ucs_ptr_map_get); memreg has UCP issue only indirect ids (PROTO_INDIRECT_ID=on,
 * UcxContext), which it looks up, so a direct one was never issued: a forgery, or a crash.
 * Wire-up messages (1: type, error mode, sequence number, source and destination endpoint ids)
 * carry such an id and a type UCP asserts on (wireup.c:37, :42, :841, ucs_bug at :845).
 *
 * Every byte UCX reads from a TCP stream passes through ucs_socket_recv_nb, a put's data too
 * (into the put's target), so the reader stays in step with the stream by counting; and every
 * byte it writes through ucs_socket_send (its connection-manager events) or _send_nb and
 * _sendv_nb (its frames), which tell the reader the connection's name and its last put.
 */
#include <string.h>

#include "memreg_ucx_guard.h"

#define MAGIC_NUMBER 0xCAFEBABE12345678ull /* UCT_TCP_MAGIC_NUMBER */
#define HEADER_BYTES 5
#define AM_ID_MAX 32 /* UCT_AM_ID_MAX */
#define CM_AM_ID 32
#define PUT_REQ_AM_ID 33
#define PUT_ACK_AM_ID 34
#define KEEPALIVE_AM_ID 35
#define CONN_REQ 1u
#define CONN_ACK 2u
#define CONN_ACK_WITH_REQ 3u
#define CONN_FIN 4u
#define CONN_REQ_BYTES 13 /* event (4), flags (1), connection id (8); the sender's sockaddr follows */
#define PUT_REQ_BYTES 20
#define WIREUP_AM_ID 1
#define WIREUP_BYTES 20   /* ucp_wireup_msg_t: type, err_mode, conn_sn, src_ep_id, dst_ep_id */
#define WIREUP_REQUEST 1  /* UCP_WIREUP_MSG_REQUEST: the only one that may name no endpoint */
#define WIREUP_TYPES 6    /* PRE_REQUEST, REQUEST, REPLY, ACK, EP_CHECK, EP_REMOVED */
#define INDIRECT_ID 1u    /* UCS_PTR_MAP_KEY_INDIRECT_FLAG */
#define RNDV_RTS_AM_ID 9
#define RTS_BYTES 41      /* ucp_rndv_rts_hdr_t: tag, request header (endpoint, request), address, size, opcode */
#define RTS_TAG_OK 0      /* UCP_RNDV_RTS_TAG_OK: memreg uses no active-message API, whose RTS is 1 */

/*
 * UCP's messages of kinds memreg's nodes never send: eager-sync and its acknowledgements (6, 7, 8,
 * 14: memreg sends no synchronous tag message), stream data (15), atomics (20, 21), the
 * active-message API (23 to 26), and ids UCP 1.13 does not use (0, 5, 13, 27 to 31). Their
 * handlers trust what the message says (the eager-sync ones), or are UCT's stubs, which log a
 * warning and a backtrace per message: a peer that sends one is no memreg node, and its
 * connection ends before UCP reads it.
 */
static const uint8_t UNUSED_KIND[AM_ID_MAX] = {
    [0] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [13] = 1, [14] = 1, [15] = 1, [20] = 1, [21] = 1,
    [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1,
};

/*
 * Where a UCP message of a kind memreg sends names an endpoint or request of the receiver's
 * (1.13's headers): 0 for messages that name none. RNDV_ATS, RTR (the sender's request), DATA,
 * ATP, GET_REP (a request), RNDV_RTS (its request header's endpoint), software PUT, GET_REQ and
 * CMPL (an endpoint). The eager-sync kinds that name one are refused whole (UNUSED_KIND).
 */
static const uint8_t OWN_ID_END[AM_ID_MAX] = {
    [9] = 16, [10] = 8, [11] = 8, [12] = 8, [16] = 8, [17] = 16, [18] = 24, [19] = 8, [22] = 8,
};

enum { AT_MAGIC, AT_HEADER, AT_KEPT_BODY, AT_SKIPPED };

void frames_begin(frame_reader *r, uint16_t family, const uint8_t *peer) {
    memset(r, 0, sizeof *r);
    r->accepted = peer == NULL;
    r->at = r->accepted ? AT_MAGIC : AT_HEADER;
    r->sockaddr_len = family == GUARD_AF_INET6 ? 28 : 16; /* sizeof sockaddr_in6, sockaddr_in */
    if (peer != NULL) {
        memcpy(r->peer, peer, r->sockaddr_len);
    }
    r->put_sn = UINT32_MAX; /* as UCX starts it: tcp_ep.c:113 */
}

/* UCX's own connection request on a stream it connected names the connection (its sequence
 * number and the peer it connected to): a request from the peer on it must name it alike. */
void frames_sent(frame_reader *r, const uint8_t *bytes, size_t count) {
    if (count >= 8 && le64(bytes) == MAGIC_NUMBER) {
        bytes += 8;
        count -= 8;
    }
    if (r->accepted || r->identified || count < HEADER_BYTES + CONN_REQ_BYTES || bytes[0] != CM_AM_ID
            || le32(bytes + HEADER_BYTES) != CONN_REQ) {
        return;
    }
    r->sn = le64(bytes + HEADER_BYTES + 5);
    r->identified = 1;
}

/*
 * UCX's puts on the stream: an acknowledgement of its last put when none awaits one aborts it
 * (tcp_ep.c:939), so the frames it writes are followed to know its last put and whether it waits.
 */
void frames_wrote(frame_reader *r, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        if (r->out_left > 0) {
            size_t take = count < r->out_left ? count : (size_t) r->out_left;
            r->out_left -= take;
            bytes += take;
            count -= take;
            continue;
        }
        r->out_head[r->out_have++] = *bytes++;
        count--;
        if (r->out_have == HEADER_BYTES && r->out_head[0] != PUT_REQ_AM_ID) {
            r->out_left = le32(r->out_head + 1);
            r->out_have = 0;
        } else if (r->out_have == sizeof r->out_head) { /* a put request's header and body */
            r->put_sn = le32(r->out_head + HEADER_BYTES + 16);
            r->put_waiting = 1;
            r->out_left = le64(r->out_head + HEADER_BYTES + 8); /* the put's data follows, raw */
            r->out_have = 0;
        }
    }
}

/*
 * UCX asks to read `asked` bytes: at most its receive buffer, and all of it when the buffer is
 * empty, as it is before the first frame. So the largest ask is the receive buffer
 * (UCX_TCP_RX_SEG_SIZE and a header), wherever UCX's configuration came from, and a frame UCX
 * takes is no longer than that less a header (tcp_ep.c:1404).
 */
void frames_expect(frame_reader *r, size_t asked) {
    if (asked > HEADER_BYTES && asked - HEADER_BYTES > r->limit) {
        r->limit = asked - HEADER_BYTES > UINT32_MAX ? UINT32_MAX : (uint32_t) (asked - HEADER_BYTES);
    }
}

/* The body of the frame whose header was just read: kept to be judged, skipped, or a fault. */
static int judge_header(frame_reader *r) {
    r->am_id = r->piece[0];
    r->length = le32(r->piece + 1);
    if (r->length > r->limit) {
        return FRAME_TOO_LONG;
    }
    if (r->accepted && !r->identified && r->am_id != CM_AM_ID) {
        return FRAME_BEFORE_REQUEST;
    }
    r->kept = (uint16_t) r->length;
    if (r->am_id < AM_ID_MAX && UNUSED_KIND[r->am_id]) {
        return FRAME_UNUSED_KIND;
    }
    if (r->am_id == RNDV_RTS_AM_ID) {
        r->kept = RTS_BYTES;
        if (r->length < RTS_BYTES) { /* tag_rndv.c:52 asserts it, and UCP reads the header regardless */
            return FRAME_BAD_MESSAGE;
        }
    } else if (r->am_id == SW_PUT_AM_ID || r->am_id == SW_GET_AM_ID) {
        r->kept = r->am_id == SW_PUT_AM_ID ? SW_PUT_BYTES : SW_GET_BYTES;
        if (r->length < r->kept) {
            return FRAME_BAD_RMA; /* UCP reads the whole header regardless */
        }
    } else if (r->am_id == WIREUP_AM_ID || (r->am_id < AM_ID_MAX && OWN_ID_END[r->am_id] > 0)) {
        r->kept = r->am_id == WIREUP_AM_ID ? WIREUP_BYTES : OWN_ID_END[r->am_id];
        if (r->length < r->kept) { /* UCP reads the header regardless, past the frame's end */
            return r->am_id == WIREUP_AM_ID ? FRAME_BAD_WIREUP : FRAME_DIRECT_ID;
        }
    } else if (r->am_id < AM_ID_MAX || r->am_id == KEEPALIVE_AM_ID) {
        r->left = r->length;
        r->at = r->left > 0 ? AT_SKIPPED : AT_HEADER;
        return FRAME_OK;
    } else if (r->am_id == CM_AM_ID) {
        if (r->length < 4 || r->length > sizeof r->piece) {
            return FRAME_BAD_EVENT;
        }
    } else if (r->am_id == PUT_REQ_AM_ID || r->am_id == PUT_ACK_AM_ID) {
        if (r->length != (r->am_id == PUT_REQ_AM_ID ? PUT_REQ_BYTES : 4)) { /* tcp_ep.c:1422, :1433 */
            return FRAME_BAD_PUT;
        }
    } else {
        return FRAME_BAD_ID;
    }
    r->at = AT_KEPT_BODY;
    return FRAME_OK;
}

static uint16_t family_of(const uint8_t *sockaddr) {
    return (uint16_t) (sockaddr[0] | sockaddr[1] << 8);
}

/* As ucs_sockaddr_cmp compares two: family, address and port. */
static int same_sockaddr(const uint8_t *a, const uint8_t *b, unsigned length) {
    unsigned at = length == 28 ? 8 : 4, bytes = length == 28 ? 16 : 4; /* sin6_addr, sin_addr */
    return memcmp(a, b, 4) == 0 && memcmp(a + at, b + at, bytes) == 0;
}

/*
 * A connection request. UCX asserts that it comes to an endpoint still accepting (the first on
 * an accepted stream, which names the connection) or to one connected, naming it alike
 * (tcp_cm.c:557); that it is of its length (:688); and it treats the flag CONNECT_TO_EP's
 * connection id as a pointer (UCP connects TCP to interfaces, never sets it).
 */
static int judge_request(frame_reader *r) {
    const uint8_t *sockaddr = r->piece + CONN_REQ_BYTES;
    uint64_t sn = le64(r->piece + 5);
    if (r->length != CONN_REQ_BYTES + (uint32_t) r->sockaddr_len || r->piece[4] != 0
            || family_of(sockaddr) != (r->sockaddr_len == 28 ? GUARD_AF_INET6 : GUARD_AF_INET)) {
        return FRAME_BAD_REQUEST;
    }
    if (r->accepted && !r->identified) {
        r->sn = sn;
        memcpy(r->peer, sockaddr, r->sockaddr_len);
        r->identified = 1;
        return FRAME_OK;
    }
    int connected = r->accepted || r->acked;
    if (!connected || !r->identified || sn != r->sn || !same_sockaddr(sockaddr, r->peer, r->sockaddr_len)) {
        return FRAME_BAD_REQUEST;
    }
    return FRAME_OK;
}

/* An acknowledgement of this process's last put only while that put awaits one (tcp_ep.c:939). */
static int judge_put_ack(frame_reader *r) {
    r->at = AT_HEADER;
    if (le32(r->piece) == r->put_sn) {
        if (!r->put_waiting) {
            return FRAME_BAD_PUT;
        }
        r->put_waiting = 0;
    }
    return FRAME_OK;
}

static uint64_t puts_admitted;

/* UCT put requests let through to exposed memory (for tests: that a rendezvous went by put). */
uint64_t memreg_tcp_puts_admitted(void) {
    return __atomic_load_n(&puts_admitted, __ATOMIC_RELAXED);
}

/* A put request: an address unless nothing is put (tcp_ep.c:1323), in memory exposed to peers;
 * its data follows, raw. */
static int judge_put(frame_reader *r) {
    uint64_t address = le64(r->piece), length = le64(r->piece + 8);
    if (address == 0 && length != 0) {
        return FRAME_BAD_PUT;
    }
    if (!exposed_may_reach(address, length, EXPOSE_WRITE)) {
        return FRAME_UNEXPOSED_WRITE;
    }
    __atomic_fetch_add(&puts_admitted, 1, __ATOMIC_RELAXED);
    r->left = length;
    r->at = length > 0 ? AT_SKIPPED : AT_HEADER;
    return FRAME_OK;
}

/* The kept header of a UCP message that names the receiver's endpoint or request: by an indirect
 * id (a wire-up message's of its type); the rest of the frame is skipped. */
static int judge_own_id(frame_reader *r) {
    r->left = r->length - r->kept;
    r->at = r->left > 0 ? AT_SKIPPED : AT_HEADER;
    if (r->am_id == WIREUP_AM_ID) {
        uint8_t type = r->piece[0];
        uint64_t destination = le64(r->piece + 12);
        if (type >= WIREUP_TYPES || (destination == 0 && type != WIREUP_REQUEST)) {
            return FRAME_BAD_WIREUP;
        }
        return destination == 0 || (destination & INDIRECT_ID) ? FRAME_OK : FRAME_DIRECT_ID;
    }
    return le64(r->piece + OWN_ID_END[r->am_id] - 8) & INDIRECT_ID ? FRAME_OK : FRAME_DIRECT_ID;
}

/* A rendezvous RTS: a tag one (rndv.c:1771 asserts that one of another opcode is the active-message
 * API's, which memreg does not use), naming the receiver's endpoint by an indirect id. */
static int judge_rts(frame_reader *r) {
    if (r->piece[RTS_BYTES - 1] != RTS_TAG_OK) {
        r->at = AT_HEADER;
        return FRAME_BAD_MESSAGE;
    }
    return judge_own_id(r);
}

/* UCP's software put or get request: of host memory, exposed to peers; the rest of the frame (a
 * put's data) is skipped. */
static int judge_software_rma(frame_reader *r) {
    int put = r->am_id == SW_PUT_AM_ID;
    int verdict = exposed_software_rma(put, r->piece, r->length);
    if (verdict == SW_RMA_NOT_HOST) {
        return FRAME_BAD_RMA;
    }
    if (verdict == SW_RMA_UNEXPOSED) {
        return put ? FRAME_UNEXPOSED_WRITE : FRAME_UNEXPOSED_READ;
    }
    return judge_own_id(r);
}

/* A connection-manager event: a request, or an acknowledgement or end of the 4 bytes UCX sends. */
static int judge_event(frame_reader *r) {
    uint32_t event = le32(r->piece);
    r->at = AT_HEADER;
    if (event == CONN_REQ) {
        return judge_request(r);
    }
    if (r->accepted && !r->identified) {
        return FRAME_BEFORE_REQUEST;
    }
    if ((event != CONN_ACK && event != CONN_ACK_WITH_REQ && event != CONN_FIN) || r->length != 4) {
        return FRAME_BAD_EVENT;
    }
    r->acked |= event != CONN_FIN;
    return FRAME_OK;
}

int frames_read(frame_reader *r, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        if (r->at == AT_SKIPPED) {
            size_t take = count < r->left ? count : (size_t) r->left;
            r->left -= take;
            bytes += take;
            count -= take;
            if (r->left == 0) {
                r->at = AT_HEADER;
            }
            continue;
        }
        size_t need = r->at == AT_MAGIC ? 8 : r->at == AT_HEADER ? HEADER_BYTES : r->kept;
        size_t take = need - r->have < count ? need - r->have : count;
        memcpy(r->piece + r->have, bytes, take);
        r->have = (uint16_t) (r->have + take);
        bytes += take;
        count -= take;
        if (r->have < need) {
            break;
        }
        r->have = 0;
        int fault = FRAME_OK;
        if (r->at == AT_MAGIC) {
            fault = le64(r->piece) == MAGIC_NUMBER ? FRAME_OK : FRAME_BAD_MAGIC;
            r->at = AT_HEADER;
        } else if (r->at == AT_HEADER) {
            fault = judge_header(r);
        } else if (r->am_id == CM_AM_ID) {
            fault = judge_event(r);
        } else if (r->am_id == PUT_REQ_AM_ID) {
            fault = judge_put(r);
        } else if (r->am_id == SW_PUT_AM_ID || r->am_id == SW_GET_AM_ID) {
            fault = judge_software_rma(r);
        } else if (r->am_id == RNDV_RTS_AM_ID) {
            fault = judge_rts(r);
        } else if (r->am_id < AM_ID_MAX) {
            fault = judge_own_id(r);
        } else {
            fault = judge_put_ack(r);
        }
        if (fault != FRAME_OK) {
            return fault;
        }
    }
    return FRAME_OK;
}
