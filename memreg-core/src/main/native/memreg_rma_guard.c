/*
 * UCP's software put and get (active messages that name a raw address: UCP_AM_ID_PUT and
 * UCP_AM_ID_GET_REQ) reach only memory exposed to peers (memreg_exposed.c), over every transport.
 * UCP 1.13 moves a put or get this way where no transport between two workers does RMA (shared
 * memory without CMA: sysv, posix); its handlers copy to or from the address named and look at no
 * key. So a put a peer issued before it saw a window's revocation, or a peer that ignores one,
 * wrote into memory the window's owner had freed after the close, and the JVM died (SIGSEGV in
 * memcpy, on the owner's progress thread). Over TCP the TCP guard's frame check holds the same
 * messages to the same rule first, and resets the connection.
 *
 * The guard stands in front of both handlers (their entries of libucp's ucp_am_handlers, each with
 * its counting proxy) and drops a request that is shorter than its header, not of host memory, or
 * outside exposed memory or its rights. UCP then sends no completion or data back: the peer's put
 * or get waits until its own timeout or close.
 */
#include <stdatomic.h>

#include "memreg_ucx_guard.h"

enum { REFUSED_PUT, REFUSED_GET, REFUSED_KINDS };

static am_handler guarded_put, real_put, guarded_get, real_get;
static atomic_ulong refused[REFUSED_KINDS];

static int put_allowed(const void *data, size_t length) {
    return length >= SW_PUT_BYTES && exposed_software_rma(1, data, length) == SW_RMA_ALLOWED;
}

static int get_allowed(const void *data, size_t length) {
    return length >= SW_GET_BYTES && exposed_software_rma(0, data, length) == SW_RMA_ALLOWED;
}

static ucs_status_t refuse(int kind) {
    atomic_fetch_add_explicit(&refused[kind], 1, memory_order_relaxed);
    return UCS_OK; /* dropped: UCT releases it */
}

static ucs_status_t put_handler(void *worker, void *data, size_t length, unsigned flags) {
    return put_allowed(data, length) ? real_put.cb(worker, data, length, flags) : refuse(REFUSED_PUT);
}

static ucs_status_t put_proxy(void *interface, void *data, size_t length, unsigned flags) {
    return put_allowed(data, length) ? real_put.proxy_cb(interface, data, length, flags) : refuse(REFUSED_PUT);
}

static ucs_status_t get_handler(void *worker, void *data, size_t length, unsigned flags) {
    return get_allowed(data, length) ? real_get.cb(worker, data, length, flags) : refuse(REFUSED_GET);
}

static ucs_status_t get_proxy(void *interface, void *data, size_t length, unsigned flags) {
    return get_allowed(data, length) ? real_get.proxy_cb(interface, data, length, flags) : refuse(REFUSED_GET);
}

/* Stands in front of UCP's software put and get request handlers and their proxies (handlers:
 * libucp's ucp_am_handlers). Before any worker is made. 0, or -1 when an entry is missing or not
 * of UCX 1.13's form (each with a proxy). */
int memreg_rma_install(void *handlers) {
    if (guard_take_handler(handlers, SW_PUT_AM_ID, &guarded_put, &real_put, put_handler, put_proxy) != 0) {
        return -1;
    }
    return guard_take_handler(handlers, SW_GET_AM_ID, &guarded_get, &real_get, get_handler, get_proxy);
}

/* Software requests dropped: puts (kind 0), gets (kind 1). */
uint64_t memreg_rma_refused(int kind) {
    return kind >= 0 && kind < REFUSED_KINDS ? atomic_load_explicit(&refused[kind], memory_order_relaxed) : 0;
}
