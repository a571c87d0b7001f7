/*
 * memreg's guard over one assertion of UCP 1.13 that a peer can reach: when a UCP endpoint fails
 * while a wire-up reply or request still waits in a transport endpoint's pending queue,
 * ucp_request_send_state_ff asserts that the message is an ACK, EP_CHECK or EP_REMOVED
 * (ucp_request.c:684) and the process aborts. Over TCP a node's wire-up reply waits there until
 * the peer acknowledges the connection request it goes out behind; a peer that closed the
 * connection then and was gone when UCX connected back ended the node. UCX 1.14 dropped the
 * assertion and frees such a message as it frees the other three (commit 9ccaf31, "Remove
 * assertion for checking WIREUP_MSGs when purging"); so does this guard, by handing libucp's own
 * function the message marked as an ACK.
 *
 * libucp calls ucp_request_send_state_ff through its PLT (objdump: every call goes to
 * ucp_request_send_state_ff@plt), so this definition, loaded into the global scope before
 * libucp, is the one it reaches; memreg_wireup_install hands it libucp's own and the wire-up
 * message's progress function, by which such a request is known. The two offsets are those of
 * UCX 1.13.1's ucp_request_t (memreg_ucx_guard.h), as libucp's own code reads them: a request
 * whose progress function is not found at the first is not touched.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "memreg_ucx_guard.h"

typedef void (*state_ff_fn)(void *, ucs_status_t);

#define WIREUP_MSG_ACK 3             /* UCP_WIREUP_MSG_ACK; EP_CHECK 4 and EP_REMOVED 5 pass too */
#define WIREUP_MSG_EP_REMOVED 5

static state_ff_fn real_state_ff;
static void *wireup_msg_progress;
static atomic_ulong freed;

void ucp_request_send_state_ff(void *req, ucs_status_t status) {
    uint8_t *request = req;
    void *progress = *(void **) (request + REQUEST_PROGRESS_OFFSET);
    uint8_t *type = request + REQUEST_WIREUP_OFFSET; /* the wire-up message's first field, its type */
    if (wireup_msg_progress != NULL && progress == wireup_msg_progress
            && (*type < WIREUP_MSG_ACK || *type > WIREUP_MSG_EP_REMOVED)) {
        *type = WIREUP_MSG_ACK; /* freed as UCX 1.14 frees it: the buffer, then the request */
        atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
    }
    real_state_ff(req, status);
}

/* Hands over libucp's own ucp_request_send_state_ff and ucp_wireup_msg_progress; before this,
 * nothing calls the one above (libucp is not loaded yet). */
void memreg_wireup_install(void *state_ff, void *msg_progress) {
    real_state_ff = (state_ff_fn) state_ff;
    wireup_msg_progress = msg_progress;
}

/* Wire-up requests and replies freed when their endpoint failed, where UCX 1.13 would have aborted. */
uint64_t memreg_wireup_freed(void) {
    return atomic_load_explicit(&freed, memory_order_relaxed);
}
