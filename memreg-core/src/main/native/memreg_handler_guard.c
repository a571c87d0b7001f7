/*
 * memreg's guard over assertions of UCP 1.13 that a peer reaches with one message, where UCP
 * asserts before it changes anything: the message is dropped instead of the process aborting.
 *   - A rendezvous ATP ("the put is complete") naming a request that is not one of this process's
 *     ready-to-receive requests (a send in flight, say) failed the assertion in
 *     ucp_request_get_super (ucp_request.inl:1101), UCP's first step after taking the request out
 *     of its id map. Request ids were counted (1, 3, 5, ...): one such frame from a stranger over
 *     TCP did it, measured; they are random now (memreg_id_guard.c), but the peer a send went to
 *     knows its id. The named request is out of UCP's id map and its endpoint's list, so its
 *     transfer never completes (a send whose id a forger named waits until its node closes).
 *   - A software RMA completion (CMPL) naming an endpoint whose flush state is not set up failed
 *     the assertion in ucp_ep_flush_state (ucp_ep.inl:157), found by a fuzzer sending a worker's
 *     endpoint ids, as the peer each endpoint is for knows its own; one when the worker awaits no
 *     completion fails the next, in ucp_worker_flush_ops_count_dec (ucp_worker.h:418, from the
 *     code). Both are the first steps of ucp_ep_rma_remote_request_completed. A CMPL while the
 *     worker awaits completions of real puts still counts as one of them (the worker's flush may
 *     complete early).
 *
 * The guard stands in front of those handlers (their entries of libucp's ucp_am_handlers, the
 * ATP's counting proxy too, which some interfaces call instead, as memreg_wireup_messages.c does
 * for wire-up) and defines libucs's ucs_fatal_error_format, which UCP's assertions call through
 * libucp's PLT: while a guarded handler runs on the thread, an assertion raised in one of the
 * functions named for it jumps back (longjmp) to the guard, which drops the message; every other
 * fatal error goes on to libucs's own ucs_fatal_error_message, formatted as libucs formats it, and
 * aborts as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memreg_ucx_guard.h"

#define RNDV_ATP_AM_ID 16 /* UCP_AM_ID_RNDV_ATP */
#define CMPL_AM_ID 22     /* UCP_AM_ID_CMPL */
#define MESSAGE_BYTES 2048

typedef void (*fatal_message_fn)(const char *file, unsigned line, const char *function, char *message);

/* A guarded handler running on this thread: where its assertions jump, and which may. */
typedef struct {
    jmp_buf where;
    const char *const *assertions; /* the functions whose assertions come before UCP changes anything */
} running_handler;

enum { DROPPED_ATP, DROPPED_CMPL, DROPPED_KINDS };

static const char *const ATP_ASSERTIONS[] = {"ucp_request_get_super", NULL};
static const char *const CMPL_ASSERTIONS[] = {"ucp_ep_flush_state", "ucp_worker_flush_ops_count_dec", NULL};

static am_handler guarded_atp, real_atp;   /* UCP's entry: its handler, and its counting proxy */
static am_handler guarded_cmpl, real_cmpl; /* no proxy */
static fatal_message_fn real_fatal_message;
static _Thread_local running_handler *running; /* the innermost guarded handler on this thread */
static atomic_ulong dropped[DROPPED_KINDS];

static ucs_status_t guarded_call(am_callback real, const char *const *assertions, int kind, void *arg, void *data,
                                 size_t length, unsigned flags) {
    running_handler *volatile outer = running; /* a handler that progressed the worker again, if any */
    running_handler here = {.assertions = assertions};
    if (setjmp(here.where) != 0) { /* UCP asserted where nothing was changed yet */
        running = outer;
        atomic_fetch_add_explicit(&dropped[kind], 1, memory_order_relaxed);
        return UCS_OK; /* dropped: UCT releases it */
    }
    running = &here;
    ucs_status_t status = real(arg, data, length, flags);
    running = outer;
    return status;
}

static ucs_status_t atp_handler(void *worker, void *data, size_t length, unsigned flags) {
    return guarded_call(real_atp.cb, ATP_ASSERTIONS, DROPPED_ATP, worker, data, length, flags);
}

static ucs_status_t atp_proxy(void *interface, void *data, size_t length, unsigned flags) {
    return guarded_call(real_atp.proxy_cb, ATP_ASSERTIONS, DROPPED_ATP, interface, data, length, flags);
}

static ucs_status_t cmpl_handler(void *worker, void *data, size_t length, unsigned flags) {
    return guarded_call(real_cmpl.cb, CMPL_ASSERTIONS, DROPPED_CMPL, worker, data, length, flags);
}

static int may_jump(const char *function) {
    for (const char *const *name = running == NULL ? NULL : running->assertions; name != NULL && *name != NULL;
         name++) {
        if (strcmp(function, *name) == 0) {
            return 1;
        }
    }
    return 0;
}

__attribute__((noreturn)) void ucs_fatal_error_format(const char *file, unsigned line, const char *function,
                                                      const char *format, ...) {
    if (may_jump(function)) {
        longjmp(running->where, 1);
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

/* Stands in front of UCP's ATP handler and its proxy, and its CMPL handler (handlers: libucp's
 * ucp_am_handlers), and hands fatal errors on to fatal_message (libucs's ucs_fatal_error_message).
 * Before any worker is made. 0, or -1 when an entry is missing or not of UCX 1.13's form (the ATP
 * with a proxy, the CMPL without). */
int memreg_handler_install(void *handlers, void *fatal_message) {
    real_fatal_message = (fatal_message_fn) fatal_message;
    if (guard_take_handler(handlers, RNDV_ATP_AM_ID, &guarded_atp, &real_atp, atp_handler, atp_proxy) != 0) {
        return -1;
    }
    return guard_take_handler(handlers, CMPL_AM_ID, &guarded_cmpl, &real_cmpl, cmpl_handler, NULL);
}

/* Messages dropped where UCP asserted: ATPs (kind 0), CMPLs (kind 1). */
uint64_t memreg_handler_dropped(int kind) {
    return kind >= 0 && kind < DROPPED_KINDS ? atomic_load_explicit(&dropped[kind], memory_order_relaxed) : 0;
}
