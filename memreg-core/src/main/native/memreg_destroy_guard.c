/*
 * memreg's mend of a UCP 1.13 assertion that its indirect ids would reach: a worker destroyed
 * while one of its endpoints still tracked requests by indirect id (a rendezvous whose peer had
 * left, with error mode NONE) asserted that the endpoint tracked none (ucp_ep.c:437), and the
 * process aborted as the node closed. memreg has UCP issue indirect ids for every endpoint
 * (PROTO_INDIRECT_ID=on, so that the TCP guard can refuse a forged direct one); UCP purges the
 * requests an endpoint tracks when a PEER-mode endpoint fails, but a worker that destroys its
 * endpoints only empties their pending queues. So ucp_ep_disconnected, which libucp's worker
 * destroy calls through its PLT (objdump: ucp_ep_disconnected@plt) with force, first purges them
 * with libucp's own ucp_ep_reqs_purge: they complete with UCS_ERR_CANCELED, as on a failure.
 */
#include <stddef.h>

#include "memreg_ucx_guard.h"

#define UCS_ERR_CANCELED (-16)

typedef void (*disconnected_fn)(void *, int);
typedef void (*purge_fn)(void *, ucs_status_t);

static disconnected_fn real_disconnected;
static purge_fn reqs_purge;

void ucp_ep_disconnected(void *ep, int force) {
    if (force && reqs_purge != NULL) { /* the endpoint goes now: nothing it tracks can complete any more */
        reqs_purge(ep, UCS_ERR_CANCELED);
    }
    real_disconnected(ep, force);
}

/* Hands over libucp's own ucp_ep_disconnected and ucp_ep_reqs_purge; before this, nothing calls
 * the one above (libucp is not loaded yet). */
void memreg_destroy_install(void *disconnected, void *purge) {
    real_disconnected = (disconnected_fn) disconnected;
    reqs_purge = (purge_fn) purge;
}
