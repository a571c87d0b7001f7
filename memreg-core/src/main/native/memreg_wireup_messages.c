/*
 * memreg's guard over two wire-up messages with which a peer aborted a node in one frame (UCX
 * 1.13.1, measured here over TCP, from a stranger to a worker without a token): an
 * acknowledgement (ACK) naming one of the node's endpoints that had sent no reply (wireup.c:781,
 * UCP asserts the endpoint has the peer's id and sent a reply), or carrying an interface's
 * address (wireup.c:829); and a pre-request, which only UCP's client-server connections send
 * (memreg makes none) and which UCP asserts comes to such an endpoint (wireup.c:475). memreg's
 * endpoint ids were counted (3, 5, 7, ...): the first guess named a real endpoint. They are drawn
 * at random now (memreg_id_guard.c), but a peer knows the one this process gave its endpoint.
 * And an endpoint check (EP_CHECK) naming an endpoint the worker does not have made UCP connect to
 * the address the check carries, wherever a stranger said (to answer that the endpoint is gone).
 *
 * The guard stands in front of UCP's wire-up message handler: libucp's exported table of its
 * message handlers (ucp_am_handlers), read as each worker's transports are set up, gets the
 * guard's entry for UCP_AM_ID_WIREUP before the first worker is made. It drops, before UCP reads
 * a byte: a message shorter than its header; a pre-request; an ACK that carries an interface's
 * address or names no endpoint of the worker that awaits one; and an EP_CHECK naming an endpoint
 * id this process never issued (the id guard remembers them; a check of an endpoint since
 * destroyed, the case UCP answers, names one it did). Which endpoints await an ACK, it learns
 * from UCP's packing of each wire-up message it sends, on any transport: libucp takes
 * ucp_wireup_msg_pack's address from its GOT (objdump), so the definition below is the one a
 * transport calls. A reply (its source is the replying
 * endpoint's id) awaits an ACK until the first comes; its worker is read from UCP's request
 * (UCX 1.13.1's offsets, checked against the request's progress function as the other wire-up
 * guard checks them; where they do not hold, the reply is noted for any worker).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "memreg_ucx_guard.h"

#define WIREUP_AM_ID 1                  /* UCP_AM_ID_WIREUP */
#define MSG_BYTES 20                    /* ucp_wireup_msg_t: type, err_mode, conn_sn, src_ep_id, dst_ep_id */
#define MSG_PRE_REQUEST 0
#define MSG_REPLY 2
#define MSG_ACK 3
#define MSG_EP_CHECK 4
#define UNPACK_ALL 0xffffffffu          /* the handler unpacks with UCP_ADDRESS_PACK_FLAGS_ALL */
#define AWAITED 4096                    /* replies awaiting an ACK: the oldest gives way */

typedef size_t (*pack_fn)(void *dest, void *arg);

typedef struct {
    void *worker; /* NULL: any */
    uint64_t ep_id;
} awaited_ack;

static pack_fn real_pack;
static void *msg_progress;
static am_handler guarded_entry, real_entry;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static awaited_ack awaited[AWAITED];
static size_t awaited_next;
static atomic_ulong dropped;
static atomic_ulong acks_passed;

/* The worker whose request sends msg, or NULL when the request is not one of UCP's wire-up requests. */
static void *worker_of(const uint8_t *msg) {
    const uint8_t *req = msg - REQUEST_WIREUP_OFFSET;
    void *progress;
    memcpy(&progress, req + REQUEST_PROGRESS_OFFSET, sizeof progress);
    if (msg_progress == NULL || progress != msg_progress) {
        return NULL;
    }
    return guard_request_worker(req);
}

size_t ucp_wireup_msg_pack(void *dest, void *arg) {
    const struct iovec *iov = arg;
    const uint8_t *msg = iov[0].iov_base;
    if (iov[0].iov_len >= MSG_BYTES && msg[0] == MSG_REPLY) { /* sent from ucp_wireup_msg_progress */
        awaited_ack ack = {worker_of(msg), le64(msg + 4)};
        pthread_mutex_lock(&lock);
        awaited[awaited_next++ % AWAITED] = ack;
        pthread_mutex_unlock(&lock);
    }
    return real_pack(dest, arg);
}

/* Whether worker's endpoint ep_id awaits an ACK; it awaits none after this. */
static int take_awaited(void *worker, uint64_t ep_id) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < AWAITED && !found; i++) {
        if (awaited[i].ep_id == ep_id && ep_id != 0 && (awaited[i].worker == worker || awaited[i].worker == NULL)) {
            awaited[i] = (awaited_ack) {NULL, 0};
            found = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

static void count_interface(void *count, uint16_t transport, const tl_addresses *interface) {
    (void) transport;
    (void) interface;
    ++*(unsigned *) count;
}

/* An ACK UCP may read: its address names no interface, and its endpoint awaits it. */
static int ack_awaited(void *worker, const uint8_t *msg, size_t length) {
    unsigned interfaces = 0;
    if (guard_address_walk(msg + MSG_BYTES, length - MSG_BYTES, UNPACK_ALL, count_interface, &interfaces) != 0
            || interfaces != 0) {
        return 0;
    }
    return take_awaited(worker, le64(msg + 12));
}

/* Whether UCP may read the wire-up message [data, data + length) that came to worker: not one
 * shorter than its header (UCP reads past it), a pre-request, an ACK that carries an interface's
 * address or that no endpoint awaits (an ACK let through is awaited no more), or an EP_CHECK
 * naming an endpoint id this process never issued. Exported for the guard's own test. */
int memreg_wireup_admits(void *worker, const void *data, size_t length) {
    const uint8_t *msg = data;
    if (length < MSG_BYTES) {
        return 0;
    }
    if (msg[0] == MSG_EP_CHECK) { /* UCP answers a check of an endpoint it lacks by connecting where it says */
        return guard_endpoint_id_issued(le64(msg + 12));
    }
    return msg[0] != MSG_PRE_REQUEST && (msg[0] != MSG_ACK || ack_awaited(worker, msg, length));
}

static ucs_status_t guarded_handler(void *worker, void *data, size_t length, unsigned flags) {
    if (!memreg_wireup_admits(worker, data, length)) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return UCS_OK; /* dropped: UCT releases it */
    }
    if (length >= MSG_BYTES && ((const uint8_t *) data)[0] == MSG_ACK) {
        atomic_fetch_add_explicit(&acks_passed, 1, memory_order_relaxed);
    }
    return real_entry.cb(worker, data, length, flags);
}

/* Stands in front of UCP's wire-up handler (handlers: libucp's ucp_am_handlers), and takes over
 * packing its messages (pack, progress: libucp's ucp_wireup_msg_pack, _progress). Before any
 * worker is made. 0, or -1 when the handler has a proxy (UCX 1.13's has none), which a worker
 * would call in its place. */
int memreg_wireup_messages_install(void *handlers, void *pack, void *progress) {
    real_pack = (pack_fn) pack;
    msg_progress = progress;
    return guard_take_handler(handlers, WIREUP_AM_ID, &guarded_entry, &real_entry, guarded_handler, NULL);
}

/* worker is being destroyed: none of its endpoints awaits an ACK any more. */
void memreg_wireup_worker_gone(void *worker) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < AWAITED; i++) {
        if (awaited[i].worker == worker) {
            awaited[i] = (awaited_ack) {NULL, 0};
        }
    }
    pthread_mutex_unlock(&lock);
}

/* Replies of worker's endpoints (NULL: of any worker's) that await an ACK (for tests). */
uint64_t memreg_wireup_awaiting(void *worker) {
    uint64_t count = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < AWAITED; i++) {
        count += awaited[i].ep_id != 0 && awaited[i].worker == worker;
    }
    pthread_mutex_unlock(&lock);
    return count;
}

/* Wire-up messages dropped before UCP read them (memreg_wireup_admits said no). */
uint64_t memreg_wireup_dropped(void) {
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}

/* ACKs handed on to UCP: each to an endpoint that awaited it. */
uint64_t memreg_wireup_acks_passed(void) {
    return atomic_load_explicit(&acks_passed, memory_order_relaxed);
}
