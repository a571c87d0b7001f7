/*
 * memreg's guard over one assertion of UCP 1.13 that a peer reaches with a request id: a
 * rendezvous ATP message ("the put is complete") naming a request that is not one of this
 * process's ready-to-receive requests (a send in flight, say) failed the assertion in
 * ucp_request_get_super (ucp_request.inl:1101) and the process aborted. Request ids are indirect
 * and were counted from zero (1, 3, 5, ...): one such frame from a stranger over TCP did it,
 * measured. They are random now (memreg_id_guard.c), but the peer a send went to knows its id.
 *
 * UCP's ATP handler takes the named request out of its id map and asks for its super request
 * before it touches anything else. So the guard stands in front of the handler and of the
 * counting proxy that some interfaces call instead (the ATP entry of libucp's ucp_am_handlers,
 * as memreg_wireup_messages.c does for wire-up) and, if that one
 * assertion fails while the handler runs on this thread, returns from the handler as if the
 * message had been dropped: libucs's ucs_fatal_error_format, which UCP's assertions call through
 * libucp's PLT, is defined here and jumps back (longjmp) for that assertion only, from the
 * inline function that makes it, while the handler runs; every other fatal error goes on to
 * libucs's own ucs_fatal_error_message, formatted as libucs formats it, and aborts as before.
 * What is left: the named request is out of UCP's id map and its endpoint's list, so its transfer
 * never completes (a send whose id a forger named waits until its node closes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memreg_ucx_guard.h"

#define RNDV_ATP_AM_ID 16 /* UCP_AM_ID_RNDV_ATP */
#define MESSAGE_BYTES 2048

typedef void (*fatal_message_fn)(const char *file, unsigned line, const char *function, char *message);

static am_handler guarded_atp, real_atp; /* UCP's entry: its handler, and its counting proxy,
                                           which calls the handler directly */
static fatal_message_fn real_fatal_message;
static _Thread_local jmp_buf *atp_running; /* set while this thread runs UCP's ATP handler */
static atomic_ulong atp_dropped;

static ucs_status_t guarded_call(am_callback real, void *arg, void *data, size_t length, unsigned flags) {
    jmp_buf *volatile outer = atp_running; /* a handler that progressed the worker again, if any */
    jmp_buf here;
    if (setjmp(here) != 0) { /* the ATP named a request that is no ready-to-receive */
        atp_running = outer;
        atomic_fetch_add_explicit(&atp_dropped, 1, memory_order_relaxed);
        return UCS_OK; /* dropped: UCT releases it */
    }
    atp_running = &here;
    ucs_status_t status = real(arg, data, length, flags);
    atp_running = outer;
    return status;
}

static ucs_status_t atp_handler(void *worker, void *data, size_t length, unsigned flags) {
    return guarded_call(real_atp.cb, worker, data, length, flags);
}

static ucs_status_t atp_proxy(void *interface, void *data, size_t length, unsigned flags) {
    return guarded_call(real_atp.proxy_cb, interface, data, length, flags);
}

__attribute__((noreturn)) void ucs_fatal_error_format(const char *file, unsigned line, const char *function,
                                                      const char *format, ...) {
    if (atp_running != NULL && strcmp(function, "ucp_request_get_super") == 0) {
        longjmp(*atp_running, 1);
    }
    char message[MESSAGE_BYTES];
    va_list ap;
    va_start(ap, format);
    vsnprintf(message, sizeof message, format, ap);
    va_end(ap);
    if (real_fatal_message != NULL) {
        real_fatal_message(file, line, function, message);
    }
    fprintf(stderr, "%s:%u %s\n", file, line, message);
    abort();
}

/* Stands in front of UCP's ATP handler and its proxy (handlers: libucp's ucp_am_handlers) and
 * hands fatal errors on to fatal_message (libucs's ucs_fatal_error_message). Before any worker is
 * made. 0, or -1 when there is no such handler or it has no proxy (UCX 1.13's has one). */
int memreg_rendezvous_install(void *handlers, void *fatal_message) {
    real_fatal_message = (fatal_message_fn) fatal_message;
    return guard_take_handler(handlers, RNDV_ATP_AM_ID, &guarded_atp, &real_atp, atp_handler, atp_proxy);
}

/* ATP messages dropped at UCP's assertion that their request is a ready-to-receive. */
uint64_t memreg_rendezvous_atp_dropped(void) {
    return atomic_load_explicit(&atp_dropped, memory_order_relaxed);
}
