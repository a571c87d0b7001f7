/*
 * What memreg's guards over UCX 1.13 share (one library, libmemreg-ucx-guard.so): UCX's status
 * type; the walk over a worker address (memreg_address_guard.c), which the TCP guard
 * (memreg_tcp_guard.c) uses to find the TCP listeners an address names and the wire-up guard
 * (memreg_wireup_messages.c) to count an acknowledgement's interfaces; the TCP guard's reader
 * of UCX's frames (memreg_tcp_frames.c); and the memory peers may reach, which that reader and
 * the software RMA guard (memreg_rma_guard.c) hold puts and gets to (memreg_exposed.c), receive
 * buffers among it (memreg_receive_guard.c). What is declared here stays inside the library, but
 * memreg_withdraw, which memreg calls too.
 */
#ifndef MEMREG_UCX_GUARD_H
#define MEMREG_UCX_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GUARD_HIDDEN __attribute__((visibility("hidden")))
#define GUARD_MAX_LANES 6 /* UCP_MAX_LANES */
#define GUARD_AF_INET 2
#define GUARD_AF_INET6 10
#define GUARD_TCP_LOOPBACK 0x1u /* uct_tcp_device_addr_t flag: a local id follows, not an IP address */
#define MEMORY_TYPE_HOST 0 /* UCS_MEMORY_TYPE_HOST */

/* UCX's headers, as UCP packs them on x86-64: little-endian, unaligned. */
static inline uint32_t le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

typedef int8_t ucs_status_t; /* a packed enum: one signed byte */
#define UCS_OK 0
#define UCS_ERR_NO_MEMORY (-4)
#define UCS_ERR_INVALID_ADDR (-7)
#define UCS_ERR_NO_PROGRESS (-10)
#define UCS_ERR_TIMED_OUT (-20)
#define UCS_ERR_UNSUPPORTED (-22)
#define UCS_ERR_NOT_CONNECTED (-24)
#define UCS_ERR_CONNECTION_RESET (-25)

/* One interface of a worker address: its transport's device, interface and endpoint addresses. */
typedef struct {
    const uint8_t *dev;
    unsigned dev_len;
    const uint8_t *iface;
    unsigned iface_len;
    unsigned ep_lens[GUARD_MAX_LANES];
    unsigned eps;
} tl_addresses;

/* Called for each interface of an address that passed its checks; transport is UCX's name sum. */
typedef void (*interface_visitor)(void *context, uint16_t transport, const tl_addresses *interface);

/* memreg_address_check that also hands every interface to visit (which may be NULL). */
GUARD_HIDDEN int guard_address_walk(const uint8_t *address, size_t length, unsigned flags, interface_visitor visit,
                                    void *context);

/* UCX's checksum of a transport's name, as its addresses carry it. */
GUARD_HIDDEN uint16_t guard_name_sum(const char *name);

/* A UCP message handler, and UCX 1.13.1's entry of one in libucp's table ucp_am_handlers
 * (ucp_am_handler_t, ucp_context.h): the wire-up and rendezvous guards take entries of it. */
typedef ucs_status_t (*am_callback)(void *arg, void *data, size_t length, unsigned flags);
typedef struct {
    uint64_t features;
    am_callback cb;
    void *tracer;
    uint32_t flags;
    am_callback proxy_cb; /* what an interface that counts its messages calls instead of cb */
} am_handler;

/* Puts guarded in the place of entry id of handlers (libucp's ucp_am_handlers): a copy of the
 * entry, kept in *original, with cb, and proxy where one is given, in place of its own. A guard
 * gives a proxy exactly when it expects the entry to have one (else UCX calls what it does not
 * stand in front of). Before any worker is made, which reads the table. 0, or -1 when the entry
 * is missing or not of that form. */
static inline int guard_take_handler(void *handlers, unsigned id, am_handler *guarded, am_handler *original,
                                     am_callback cb, am_callback proxy) {
    am_handler **table = handlers;
    if (table[id] == NULL || (table[id]->proxy_cb == NULL) != (proxy == NULL)) {
        return -1;
    }
    *original = *table[id];
    *guarded = *original;
    guarded->cb = cb;
    guarded->proxy_cb = proxy;
    table[id] = guarded;
    return 0;
}

/* UCX 1.13.1's ucp_request_t, where the guards read it (libucp's own code reads the same): a
 * ucs_status_t, then its flags, its id; the send part's endpoint, its wire-up message and its
 * progress function. An endpoint's first field is its worker. */
#define REQUEST_FLAGS_OFFSET 0x4
#define REQUEST_ID_OFFSET 0x8
#define REQUEST_EP_OFFSET 0x18       /* req->send.ep */
#define REQUEST_WIREUP_OFFSET 0xa8   /* req->send.wireup, the message a wire-up request sends */
#define REQUEST_PROGRESS_OFFSET 0xe0 /* req->send.uct.func */

/* The worker of the endpoint a send request req goes out on; NULL when it has no endpoint. */
static inline void *guard_request_worker(const void *req) {
    void *ep, *worker = NULL;
    memcpy(&ep, (const uint8_t *) req + REQUEST_EP_OFFSET, sizeof ep);
    if (ep != NULL) {
        memcpy(&worker, ep, sizeof worker);
    }
    return worker;
}

/* Whether this process's UCP issued endpoint id id, as far as the id guard remembers
 * (memreg_id_guard.c: the last of 65,536 slots an id maps to). */
GUARD_HIDDEN int guard_endpoint_id_issued(uint64_t id);

#define EXPOSE_READ 0x1  /* peers may read it (UCP's software get) */
#define EXPOSE_WRITE 0x2 /* peers may write it (UCT's put over TCP, UCP's software put) */

/* Whether a peer may reach [address, address + length) with rights (memreg_exposed.c). */
GUARD_HIDDEN int exposed_may_reach(uint64_t address, uint64_t length, int rights);

/* UCP's software put and get request (active messages that name a raw address of the receiver's,
 * rma_sw.c): their ids and headers (packed: a put's address, endpoint id, memory type, then its
 * data; a get's address, length, request and endpoint ids, memory type). */
#define SW_PUT_AM_ID 17 /* UCP_AM_ID_PUT */
#define SW_PUT_BYTES 20 /* ucp_put_hdr_t */
#define SW_GET_AM_ID 18 /* UCP_AM_ID_GET_REQ */
#define SW_GET_BYTES 36 /* ucp_get_req_hdr_t */

enum { SW_RMA_ALLOWED, SW_RMA_NOT_HOST, SW_RMA_UNEXPOSED };

/* What a software put (put true) or get of message_length bytes, header and all, may do: reach
 * host memory exposed with its rights, or not (memreg_exposed.c). header holds at least its
 * header's bytes (SW_PUT_BYTES, SW_GET_BYTES). */
GUARD_HIDDEN int exposed_software_rma(int put, const uint8_t *header, uint64_t message_length);

/* A receive request's buffer, which UCP is about to have a peer put into: writable by peers until
 * memreg_withdraw(request) or memreg_withdraw_owner(context). 0 once noted, -1 when no room. */
GUARD_HIDDEN int exposed_receive(uint64_t request, uint64_t context, uint64_t address, uint64_t length);

/* No peer reaches what key exposed from now on (memreg_exposed.c). */
void memreg_withdraw(uint64_t key);

/* Where a TCP stream's reader stands (memreg_tcp_frames.c); all zero is nothing read yet. */
typedef struct {
    uint8_t at;           /* what the next byte belongs to */
    uint8_t accepted;     /* the stream came in at a listener: magic number, then connection request */
    uint8_t acked;        /* a connected stream's request was acknowledged: UCX's endpoint is connected */
    uint8_t identified;   /* the connection's sequence number and peer are known (sn, peer) */
    uint8_t sockaddr_len; /* of the stream's family: the address a connection request carries */
    uint8_t am_id;        /* of the frame being read */
    uint16_t have;        /* bytes of the current piece in piece */
    uint16_t kept;        /* bytes of the current frame's body kept in piece to be judged */
    uint32_t length;      /* of the current frame's body */
    uint32_t limit;       /* the longest body UCX takes, as its reads show */
    uint64_t left;        /* bytes of a skipped body still to come */
    uint64_t sn;          /* the connection's sequence number, which a repeated request must carry */
    uint8_t peer[28];     /* the peer's listener (a sockaddr), which a repeated request must name */
    uint8_t piece[64];    /* the magic number, a header, or a body that is judged */
    /* What this process writes: where its frames stand, and its last put's sequence number */
    uint8_t put_waiting;  /* that put awaits its acknowledgement (UCT_TCP_EP_FLAG_PUT_TX_WAITING_ACK) */
    uint8_t out_have;
    uint8_t out_head[25]; /* a header, and a put request's body */
    uint32_t put_sn;
    uint64_t out_left;
} frame_reader;

/* What frames_read finds wrong with a stream; FRAME_OK is nothing. */
enum {
    FRAME_OK,
    FRAME_BAD_MAGIC,      /* not UCX's magic number */
    FRAME_TOO_LONG,       /* longer than UCX's receive buffer */
    FRAME_BEFORE_REQUEST, /* on an accepted stream before its connection request */
    FRAME_BAD_ID,         /* a kind UCX does not know */
    FRAME_BAD_EVENT,      /* a connection-manager event UCX does not know, or not of its length */
    FRAME_BAD_REQUEST,    /* a connection request out of place or not of its form */
    FRAME_BAD_PUT,        /* a put request or acknowledgement not of its form, or for no put */
    FRAME_BAD_RMA,        /* UCP's software put or get request not of its form */
    FRAME_UNEXPOSED_WRITE, /* a put into memory not exposed to peers for writing */
    FRAME_UNEXPOSED_READ, /* a get from memory not exposed to peers for reading */
    FRAME_DIRECT_ID,      /* a UCP message naming this process's endpoint or request by a direct id */
    FRAME_BAD_WIREUP,     /* a UCP wire-up message of a type or destination UCP asserts against */
    FRAME_UNUSED_KIND,    /* a UCP message of a kind memreg never sends (eager sync, stream, atomics, ...) */
    FRAME_BAD_MESSAGE,    /* a UCP message not of the form UCP asserts it has (a rendezvous RTS's) */
    FRAME_KINDS
};

/* A new stream of the given address family: connected to peer (a sockaddr), or accepted (NULL). */
GUARD_HIDDEN void frames_begin(frame_reader *r, uint16_t family, const uint8_t *peer);

/* This process sent a connection-manager event on the stream (whole, at a frame's start). */
GUARD_HIDDEN void frames_sent(frame_reader *r, const uint8_t *bytes, size_t count);

/* This process wrote the next bytes of its frames on the stream (not its events: frames_sent). */
GUARD_HIDDEN void frames_wrote(frame_reader *r, const uint8_t *bytes, size_t count);

/* UCX is about to read up to asked bytes of the stream. */
GUARD_HIDDEN void frames_expect(frame_reader *r, size_t asked);

/* The next bytes of the stream, as UCX read them: FRAME_OK, or what is wrong with them. */
GUARD_HIDDEN int frames_read(frame_reader *r, const uint8_t *bytes, size_t count);

#endif
